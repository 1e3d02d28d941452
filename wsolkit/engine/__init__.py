"""The training engine: loops, schedules, checkpoints, run directories, distributed glue.

Library code: it reports progress through callbacks and never prints.
"""
