"""The WiFi uplink: from a device's distance to the base station to its average rate ``W_i``.

A Raspberry Pi 3B+ talks 802.11n at 2.4 GHz, 20 MHz, one spatial stream (its CYW43455
chip). The received power follows a log-distance path loss; the device uses the fastest
modulation-and-coding scheme (MCS) whose receiver sensitivity the received power meets;
a MAC efficiency factor turns that PHY rate into goodput (docs/model.md, "Channel").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnnsplit._params import Constraint, Flag, Real, declare_fields
from dnnsplit.errors import InputError

__all__ = ["CHANNEL_FIELDS", "Channel"]

#: 802.11n, 20 MHz, one stream, MCS0–7 PHY rates in bit/s with the 800 ns guard interval.
PHY_RATES_LONG_GI = np.array([6.5, 13, 19.5, 26, 39, 52, 58.5, 65]) * 1e6
#: The same with the 400 ns short guard interval (MCS7: 72.2 Mbit/s).
PHY_RATES_SHORT_GI = np.array([7.2, 14.4, 21.7, 28.9, 43.3, 57.8, 65.0, 72.2]) * 1e6
#: IEEE 802.11 minimum receiver sensitivity for MCS0–7 at 20 MHz, dBm.
SENSITIVITY_DBM = np.array([-82, -79, -77, -74, -70, -66, -65, -64], dtype=float)
#: What each constant takes (inclusive bounds; ``exponent`` and ``mac_efficiency`` must be
#: positive). Within them a rate is positive, finite and never grows with distance;
#: outside them the constants describe no radio.
CHANNEL_FIELDS: dict[str, Constraint] = {
    "tx_power_dbm": Real(-100.0, 100.0),
    "loss_at_1m_db": Real(0.0, 300.0),
    "exponent": Real(high=10.0, positive=True),
    "short_guard_interval": Flag(),
    "mac_efficiency": Real(high=1.0, positive=True),
}


@dataclass(frozen=True)
@declare_fields(CHANNEL_FIELDS, prefix="channel.")
class Channel:
    """Constants of the channel model, each a parameter with its source.

    Attributes
    ----------
    tx_power_dbm : float
        Transmit power, 20 dBm (the 802.11 2.4 GHz EIRP limit in most regions).
    loss_at_1m_db : float
        Free-space path loss at 1 m and 2.437 GHz: 20·log10(4π·1 m/λ) ≈ 40.2 dB.
    exponent : float
        Path-loss exponent n. Default 2.2: with 20 dBm, the largest value near free space
        (2.0) that keeps a device 500 m away connected (at MCS0), as the paper's setup
        needs; cluttered indoor links have 2.7–3.
    short_guard_interval : bool
        Use the 400 ns guard-interval PHY rates (the Pi 3B+ links at 72.2 Mbit/s MCS7).
    mac_efficiency : float
        Goodput / PHY rate: 0.7, from iperf3 goodput of 49–56 Mbit/s at 72.2 Mbit/s PHY
        measured on this chip next to the access point.
    """

    tx_power_dbm: float = 20.0
    loss_at_1m_db: float = 40.2
    exponent: float = 2.2
    short_guard_interval: bool = True
    mac_efficiency: float = 0.7

    def received_dbm(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Received power at ``distance_m`` metres: P_tx − L(1 m) − 10·n·log10(d)."""
        d = np.asarray(distance_m, dtype=float)
        return self.tx_power_dbm - self.loss_at_1m_db - 10 * self.exponent * np.log10(d)

    def rate_bps(self, distance_m: np.ndarray | float) -> np.ndarray:
        """Average uplink goodput ``W`` in bit/s at ``distance_m`` (array or scalar); a
        distance not positive, or too far for even MCS0, is an :class:`InputError`."""
        try:
            d = np.atleast_1d(np.asarray(distance_m, dtype=float))
        except (TypeError, ValueError, OverflowError):
            raise InputError("distance_m", "must be a positive number of metres") from None
        if np.any(~np.isfinite(d)) or np.any(d <= 0):
            raise InputError("distance_m", "must be a positive number of metres")
        power = self.received_dbm(d)
        # index of the fastest MCS whose sensitivity is met; -1 when none is
        met = power[:, None] >= SENSITIVITY_DBM[None, :]
        mcs = np.where(met.any(axis=1), met.shape[1] - 1 - np.argmax(met[:, ::-1], axis=1), -1)
        if np.any(mcs < 0):
            far = float(d[mcs < 0][0])
            raise InputError(
                "distance_m",
                f"{far:g} m is out of range: {float(self.received_dbm(far)):.1f} dBm received, "
                f"MCS0 needs {SENSITIVITY_DBM[0]:.0f} dBm (path-loss exponent {self.exponent})",
            )
        phy = PHY_RATES_SHORT_GI if self.short_guard_interval else PHY_RATES_LONG_GI
        rate = phy[mcs] * self.mac_efficiency
        return rate if np.ndim(distance_m) else rate[:1]
