"""Fake I2C buses that behave like the boards' registers, for the vendors' real libraries.

``Pca9685Bus`` is a CircuitPython ``busio.I2C`` with a PCA9685 behind it, modelled on the NXP
PCA9685 datasheet (rev. 4): MODE1 (0x00) resets to 0x11 (SLEEP set), PRE_SCALE (0xFE) to 0x1E and
only takes writes while SLEEP is set, the register pointer only advances with MODE1's AI bit,
and each channel n has LEDn_ON_L/H, LEDn_OFF_L/H at 0x06 + 4n, bit 4 of the _H bytes being the
"full on"/"full off" bit (LEDn_OFF_H resets to full off).

``smbus_module`` makes a stand-in for the ``smbus`` module with the Pimoroni Pan-Tilt HAT
behind it (config byte at 0x00, servo one's pulse width in microseconds as a word at 0x01,
servo two's at 0x03, as the ``pantilthat`` library writes them).
"""

from __future__ import annotations

import errno
import types
from collections.abc import Sequence
from typing import Any

MODE1, PRE_SCALE, LED0 = 0x00, 0xFE, 0x06
SLEEP, AUTO_INCREMENT = 0x10, 0x20
OSC_HZ = 25_000_000  # the internal oscillator


def _nak(address: int) -> OSError:
    return OSError(errno.EREMOTEIO, f"no answer from {address:#x}")


class Pca9685Bus:
    """A ``busio.I2C`` with one PCA9685 at ``address`` (None: nothing on the bus)."""

    def __init__(self, address: int | None = 0x40) -> None:
        self.address = address
        self.registers = bytearray(256)
        self.registers[MODE1] = 0x11
        self.registers[0x01] = 0x04
        self.registers[PRE_SCALE] = 0x1E
        for channel in range(16):
            self.registers[LED0 + 4 * channel + 3] = 0x10  # LEDn_OFF_H: full off
        self.pointer = 0
        self.writes: list[tuple[int, bytes]] = []  # (first register, data bytes)
        self.ignored_prescale_writes = 0
        self.locked = False

    # --- what busio.I2C offers ------------------------------------------------------------

    def try_lock(self) -> bool:
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self) -> None:
        self.locked = False

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None) -> None:
        self._answer(address)
        data = bytes(buffer[start:end])
        if not data:
            return  # a probe
        self.pointer = data[0]
        if len(data) > 1:
            self.writes.append((data[0], data[1:]))
        for byte in data[1:]:
            self._store(self.pointer, byte)
            self._advance()

    def readfrom_into(
        self, address: int, buffer: Any, *, start: int = 0, end: int | None = None
    ) -> None:
        self._answer(address)
        for index in range(start, len(buffer) if end is None else end):
            buffer[index] = self.registers[self.pointer]
            self._advance()

    def writeto_then_readfrom(
        self,
        address: int,
        out_buffer: Any,
        in_buffer: Any,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        self.writeto(address, out_buffer, start=out_start, end=out_end)
        self.readfrom_into(address, in_buffer, start=in_start, end=in_end)

    # --- the chip ---------------------------------------------------------------------------

    def _answer(self, address: int) -> None:
        if address != self.address:
            raise _nak(address)

    def _advance(self) -> None:
        if self.registers[MODE1] & AUTO_INCREMENT:
            self.pointer = (self.pointer + 1) % 256

    def _store(self, register: int, value: int) -> None:
        if register == PRE_SCALE and not self.registers[MODE1] & SLEEP:
            self.ignored_prescale_writes += 1  # the datasheet: blocked while awake
            return
        self.registers[register] = value

    # --- what the test reads back -----------------------------------------------------------

    @property
    def frequency_hz(self) -> float:
        return OSC_HZ / (4096 * (self.registers[PRE_SCALE] + 1))

    def channel(self, n: int) -> tuple[int, int]:
        """LEDn_ON and LEDn_OFF as 13-bit values (bit 12 = the full on/off bit)."""
        r = self.registers[LED0 + 4 * n : LED0 + 4 * n + 4]
        return r[0] | (r[1] << 8), r[2] | (r[3] << 8)

    def channels_written(self) -> set[int]:
        """The channels whose LED registers any write touched (with auto-increment)."""
        touched = {first + i for first, data in self.writes for i in range(len(data))}
        return {(r - LED0) // 4 for r in touched if LED0 <= r < LED0 + 64}


class PanTiltHatBus:
    """``smbus.SMBus`` with a Pan-Tilt HAT at 0x15 (None: nothing answers)."""

    def __init__(self, bus: int, address: int | None = 0x15) -> None:
        self.bus = bus
        self.address = address
        self.config = 0
        self.servo_us = [0, 0]
        self.calls: list[tuple[str, int, int]] = []  # (call, register, value)
        self.closed = False

    def _answer(self, address: int) -> None:
        if self.closed or address != self.address:
            raise _nak(address)

    def write_byte_data(self, address: int, register: int, value: int) -> None:
        self._answer(address)
        self.calls.append(("byte", register, value))
        if register == 0x00:
            self.config = value

    def write_word_data(self, address: int, register: int, value: int) -> None:
        self._answer(address)
        self.calls.append(("word", register, value))
        if register in (0x01, 0x03):
            self.servo_us[(register - 1) // 2] = value

    def write_i2c_block_data(self, address: int, register: int, data: Sequence[int]) -> None:
        self._answer(address)
        self.calls.append(("block", register, len(data)))

    def read_word_data(self, address: int, register: int) -> int:
        self._answer(address)
        return self.servo_us[(register - 1) // 2]

    def close(self) -> None:
        self.closed = True


def smbus_module(address: int | None = 0x15) -> types.ModuleType:
    """A stand-in ``smbus`` module; ``module.buses`` holds every bus opened through it."""
    module = types.ModuleType("smbus")
    buses: list[PanTiltHatBus] = []

    def smbus(bus: int) -> PanTiltHatBus:
        made = PanTiltHatBus(bus, address)
        buses.append(made)
        return made

    module.SMBus = smbus
    module.buses = buses
    return module
