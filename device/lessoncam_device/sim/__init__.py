"""Simulated classroom hardware: scene, teacher paths, camera, microphone and clocks."""
