"""Runs a command on a pseudo-terminal, as a person's shell would, and writes everything it wrote there to
standard output, byte for byte; exits with its exit code.

The terminal is 160 columns wide and does no output processing (no "\\n" to "\\r\\n"), so the bytes are exactly
the program's: carriage returns and erase sequences included, which is what the tests read.

With TERMINAL_ANSWER set, that line is typed (as a person would, followed by Enter) once the program asks for
confirmation ("Only 'yes' will be accepted:"); the terminal echoes it, as a terminal does.
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
env = {key: value for key, value in os.environ.items() if key != "TERMINAL_ANSWER"}
child = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, close_fds=True, env=env)
os.close(slave)
answer = os.environ.get("TERMINAL_ANSWER")
out = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the program ended and closed its side
        break
    if not chunk:
        break
    out += chunk
    if answer is not None and b"Only 'yes' will be accepted: " in out:
        os.write(master, answer.encode() + b"\n")
        answer = None
sys.stdout.buffer.write(bytes(out))
sys.exit(child.wait())
