//! trilink captures (work in progress).
#![forbid(unsafe_code)]

pub mod container;
pub mod decode;
pub mod error;
pub mod jsonl;
pub mod link;
pub mod reader;
pub mod schedule;
pub mod tcp;
pub mod writer;

pub use container::{CaptureFormat, PacketIter, RawPacket};
pub use decode::{
    CaptureDecoder, CaptureMap, DecodedRecord, ErasedDecoder, FrameError, Framing, MapEntry,
    NationDecoder, NationalMessage,
};
pub use error::{CaptureError, CaptureErrorKind};
pub use jsonl::{JsonlReader, JsonlRecord, read_jsonl, write_jsonl};
pub use link::{SkipReason, Transport};
pub use reader::{CaptureReader, CapturedMessage, ReadStats, read_file, read_messages};
pub use schedule::{BadSpeed, ReplayFilter, Scheduler, Speed, TimingErrors, TimingSummary};
pub use tcp::{FlowKey, TcpChunk, TcpReassembler};
pub use writer::PcapngWriter;
