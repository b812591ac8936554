"""Making media: remuxing segments, cutting clips, probing uploads, posters and thumbnails, and
the assembler that runs it all while and after a lesson is recorded."""
