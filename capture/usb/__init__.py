"""The PV-NIR USB scanner: vendor protocol (protocol.md), pyusb driver and emulated device."""
