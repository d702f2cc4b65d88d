"""Reading the AMI byte stream: panoramisk's protocol with a reader that keeps multibyte
characters whole.

panoramisk 1.4 decodes every TCP read on its own with errors ignored, so a caller name whose
UTF-8 bytes are split across two reads loses a character (张三丰 arrives as 三丰). Here one
incremental decoder per connection carries the unfinished bytes over to the next read, and the
banner line is taken off whole even when it arrives in pieces. Messages are then handled by
panoramisk as before (actions' answers, events to the manager's dispatch).
"""
from __future__ import annotations

import codecs
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

BANNER = "Asterisk Call Manager/"
EOL = "\r\n"
END = EOL + EOL


class AmiStreamProtocol(AMIProtocol):  # panoramisk has no type hints: AMIProtocol is Any
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # Invalid bytes become U+FFFD instead of vanishing: a garbled name stays visibly garbled.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""
        self._banner_read = False

    def data_received(self, data: bytes) -> None:
        self._text += self._decoder.decode(data)
        if not self._banner_read and not self._take_banner():
            return
        *blocks, self._text = self._text.split(END)
        for block in blocks:
            message = Message.from_line(block.strip())
            if message is not None:
                self.handle_message(message)

    def _take_banner(self) -> bool:
        """The one line Asterisk sends on connect (no blank line after it); False until whole."""
        if len(self._text) < len(BANNER) and BANNER.startswith(self._text):
            return False  # too short to tell yet
        if self._text.startswith(BANNER):
            line, sep, rest = self._text.partition(EOL)
            if not sep:
                return False
            self.version = line[len(BANNER):].strip()
            self.log.info("AMI protocol version: %s", self.version)
            self._text = rest
        self._banner_read = True
        return True
