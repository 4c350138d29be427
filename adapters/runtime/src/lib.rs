//! trilink runtime: transports (UDP, TCP, MQTT, pcap), JetStream publish/consume, config,
//! telemetry and shutdown shared by every process.
//!
//! Not built yet: see issue 5.

#![forbid(unsafe_code)]
