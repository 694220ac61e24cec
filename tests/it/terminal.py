"""Runs a command on a pseudo-terminal, as a person's shell would, and writes everything it wrote there to
standard output, byte for byte; exits with its exit code.

The terminal is 160 columns wide and does no output processing (no "\\n" to "\\r\\n"), so the bytes are exactly
the program's: carriage returns and erase sequences included, which is what the tests read.
"""

import fcntl
import os
import struct
import subprocess
import sys
import termios

master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
attrs = termios.tcgetattr(slave)
attrs[1] &= ~termios.OPOST
termios.tcsetattr(slave, termios.TCSANOW, attrs)
child = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
os.close(slave)
out = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the program ended and closed its side
        break
    if not chunk:
        break
    out += chunk
sys.stdout.buffer.write(bytes(out))
sys.exit(child.wait())
