"""Real capture hardware that feeds the recorder: a USB webcam (V4L2) and an ALSA microphone.

Each mirrors its simulated twin in ``sim/`` (the same ``stream`` interface), so the recorder
cannot tell them apart. Pi cameras record through picamera2's own encoder pipeline instead
(``recorder/picamera2_adapter.py``).
"""
