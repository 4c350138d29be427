//! The KR national system's own MQTT broker for a local link: a real `mosquitto` on a free
//! loopback port, killed by PID when dropped. Started by [`trilink_brokers::Mosquitto`], the
//! one place in the workspace that starts mosquitto.

pub use trilink_brokers::Mosquitto;
