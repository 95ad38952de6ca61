"""Audio/video files: ffprobe with an allow-list and hardened ffmpeg input (``media``), the argv runner for
ffmpeg/ffprobe (``ffmpeg``), and raw frame pipes for decoding and encoding video (``video_io``).

May import: ``videocoach.core``.
"""
