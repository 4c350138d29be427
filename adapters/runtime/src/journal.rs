//! The egress journal: an append-only file of message ids delivered to the national system,
//! so that a restarted adapter does not deliver again what the process before it delivered.
//!
//! ## Why
//!
//! The egress acknowledges a JetStream message only after every national output accepted it.
//! If the process dies after the national send but before JetStream has the acknowledgement
//! (kill -9, OOM kill, a crash), the message is redelivered to the next process. The adapter
//! remembers recently delivered ids in memory, which only helps while the process lives; with
//! `[egress] state_dir` set it also appends each delivered id here and loads the last ids back
//! at start-up, so such a redelivery is acknowledged without being sent again.
//!
//! ## Order of operations (per message)
//!
//! 1. send to every national output and wait for its confirmation (UDP `send_to`, TCP
//!    `write_all`, the MQTT PUBACK); 2. append the id here (one `write` of 16 bytes);
//! 3. acknowledge to JetStream.
//!
//! The egress keeps up to `[egress] max_in_flight` messages between 1 and 2 at once (MQTT QoS 1
//! publishes awaiting their PUBACKs, on one connection, so the broker delivers them in the
//! order sent). Steps 2 and 3 still happen strictly in stream order, one message at a time,
//! and only for a message every output confirmed: the window changes how many messages can
//! be between 1 and 2, never the order of the steps.
//!
//! **What is still not exactly-once.** A process killed between 1 and 2 (the national system
//! has the frame, the journal does not have the id yet) sends that message once more after the
//! restart. That is every message in the window at the kill: **at most `max_in_flight`
//! duplicates per crash, each message at most once more** (`max_in_flight = 1`: at most one,
//! the one message that was being sent). For an MQTT output the window is the PUBACK round
//! trip, because the broker may forward a publish before its PUBACK arrives; for UDP and TCP
//! it is a few microseconds (their send is confirmed when it returns: with only UDP and TCP
//! outputs at most one message is ever between 1 and 2; beside an MQTT output they are sent
//! the window's messages as well). Journaling before sending would close the window only by
//! turning each of these duplicates into a possible loss (journaled, never sent), which a
//! warning link must not do. A national broker that restarts or drops the connection
//! while publishes are in flight likewise gets those of them it had already taken but not
//! acknowledged once more (MQTT QoS 1 is at-least-once): at most `max_in_flight` again. With
//! several outputs, a message that some outputs accepted and another refused is journaled only
//! once all accepted it; a crash before that resends it to the outputs that had it.
//! Exactly-once across that window would need the national system to de-duplicate by message
//! id.
//!
//! **Durability.** An append is a `write` into the page cache; no `fsync`. The page cache
//! survives the death of the process (kill -9, panic, OOM kill), which is what this journal is
//! for. After a power loss or kernel crash the last seconds of appends may be missing; messages
//! whose acknowledgement JetStream had not stored either are then delivered once more (at most
//! one duplicate per message that was in flight, i.e. at most `max_ack_pending`). `[egress]
//! state_fsync = true` calls `fdatasync` after every append and closes that gap, at the cost of
//! one disk flush per delivered message.
//!
//! ## File format (`<state_dir>/egress-delivered.ids`)
//!
//! A 16-byte header `TRILINK EGRESS 1`, then one 16-byte record per delivered message: the
//! message id's UUID bytes. No other framing: every byte string of that length is a valid id,
//! so there is nothing to corrupt except the header and the length.
//!
//! - A **torn last record** (the file length is not header + a multiple of 16) is cut off at
//!   start-up and reported, never fatal.
//! - A file shorter than the header that is a prefix of it (a crash while creating the file)
//!   is recreated.
//! - Any other file whose first bytes are not the header is **not ours**: opening fails with
//!   [`JournalError::Foreign`], and the file is left untouched.
//! - **Compaction**: when the file holds twice the ids kept in memory, the ids still in memory
//!   are written to `egress-delivered.ids.tmp`, synced, and renamed over the journal (atomic),
//!   and the directory is synced. A crash during compaction leaves either the old or the new
//!   file; a stale `.tmp` is removed at start-up.
//!
//! One adapter process per `state_dir` (and per egress durable): two processes appending to
//! the same journal would each compact away the other's ids.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use trilink_schema::MessageId;

/// File name of the journal inside `state_dir`.
pub const FILE_NAME: &str = "egress-delivered.ids";
/// Length of the header and of every record, in bytes.
pub const RECORD_LEN: usize = 16;
/// The header: identifies the file and its version.
pub const HEADER: [u8; RECORD_LEN] = *b"TRILINK EGRESS 1";

const TMP_SUFFIX: &str = ".tmp";

/// Why the journal could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A file-system operation failed.
    #[error("egress journal: {op} {path}: {source}")]
    Io {
        /// What was being done (`create directory`, `open`, `append`, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file exists but is not a trilink egress journal; it is left untouched.
    #[error(
        "egress journal: {path} is not a trilink egress journal (starts with {found}); \
         move it away or point egress.state_dir at another directory"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// Its first bytes, hex.
        found: String,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> JournalError + 'a {
    move |source| JournalError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// What [`Journal::open`] found in an existing file.
#[derive(Debug)]
pub struct Opened {
    /// The journal, positioned for appending.
    pub journal: Journal,
    /// The last `keep` ids of the file, oldest first (duplicates possible).
    pub ids: Vec<MessageId>,
    /// Id records in the file.
    pub records: usize,
    /// Bytes of a torn last record that were cut off (0 normally).
    pub torn_tail: usize,
    /// Whether the file was created (or recreated after a torn header).
    pub created: bool,
}

/// An open egress journal. See the module docs.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    records: usize,
    keep: usize,
    compact_at: usize,
    fsync: bool,
}

impl Journal {
    /// Open (or create) `<dir>/egress-delivered.ids`, creating `dir` if needed. `keep` is how
    /// many ids the caller remembers (the file is compacted to those at 2 × `keep` records);
    /// `fsync` syncs the data after every append.
    pub fn open(dir: &Path, keep: usize, fsync: bool) -> Result<Opened, JournalError> {
        let keep = keep.max(1);
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let path = dir.join(FILE_NAME);
        let tmp = tmp_path(&path);
        match fs::remove_file(&tmp) {
            Ok(()) => {
                tracing::warn!(path = %tmp.display(), "removed an unfinished journal compaction");
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &tmp)(e)),
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let len = file.metadata().map_err(io_err("stat", &path))?.len();
        let mut head = Vec::with_capacity(RECORD_LEN);
        (&mut file)
            .take(RECORD_LEN as u64)
            .read_to_end(&mut head)
            .map_err(io_err("read", &path))?;
        let mut created = false;
        if head.len() < RECORD_LEN {
            // Empty, or a crash while the header was being written.
            if !HEADER.starts_with(&head) {
                return Err(JournalError::Foreign {
                    path,
                    found: hex::encode(&head),
                });
            }
            file.set_len(0).map_err(io_err("truncate", &path))?;
            file.write_all(&HEADER)
                .map_err(io_err("write header", &path))?;
            if fsync {
                file.sync_all().map_err(io_err("sync", &path))?;
                sync_dir(dir)?;
            }
            created = true;
        } else if head != HEADER {
            return Err(JournalError::Foreign {
                path,
                found: hex::encode(&head),
            });
        }
        let body = len.saturating_sub(RECORD_LEN as u64);
        let records = usize::try_from(body / RECORD_LEN as u64).unwrap_or(usize::MAX);
        let torn_tail = if created {
            0
        } else {
            (body % RECORD_LEN as u64) as usize
        };
        if torn_tail != 0 {
            // Cut the torn record so that later appends stay aligned.
            let whole = RECORD_LEN as u64 + (body - torn_tail as u64);
            file.set_len(whole).map_err(io_err("truncate", &path))?;
        }
        let mut ids: VecDeque<MessageId> = VecDeque::with_capacity(keep.min(records));
        if !created {
            let mut reader = io::BufReader::with_capacity(64 * 1024, (&mut file).take(body));
            let mut rec = [0_u8; RECORD_LEN];
            for _ in 0..records {
                reader.read_exact(&mut rec).map_err(io_err("read", &path))?;
                if rec == [0_u8; RECORD_LEN] {
                    // Zeros (a file system's answer to a power loss mid-write) are no id.
                    continue;
                }
                if ids.len() == keep {
                    ids.pop_front();
                }
                ids.push_back(to_id(rec));
            }
        }
        let journal = Journal {
            path,
            file,
            records: if created { 0 } else { records },
            keep,
            compact_at: 2 * keep,
            fsync,
        };
        Ok(Opened {
            records: journal.records,
            journal,
            ids: ids.into(),
            torn_tail,
            created,
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Id records in the file.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Whether every append is followed by `fdatasync`.
    pub fn fsyncs(&self) -> bool {
        self.fsync
    }

    /// Append one delivered id: a single `write` of 16 bytes (plus `fdatasync` with `fsync`).
    pub fn append(&mut self, id: &MessageId) -> Result<(), JournalError> {
        self.file
            .write_all(id.as_uuid().as_bytes())
            .map_err(io_err("append", &self.path))?;
        self.records += 1;
        if self.fsync {
            self.file.sync_data().map_err(io_err("sync", &self.path))?;
        }
        Ok(())
    }

    /// Whether the file has grown to twice the ids kept and should be [compacted](Self::compact).
    pub fn needs_compaction(&self) -> bool {
        self.records >= self.compact_at
    }

    /// Replace the file with one holding only `keep` (the ids the caller still remembers, oldest
    /// first). Atomic: the new file is written beside, synced and renamed over the old one. On
    /// failure the old file stays in use and the next attempt waits for another `keep`
    /// appends.
    pub fn compact<'a>(
        &mut self,
        keep: impl IntoIterator<Item = &'a MessageId>,
    ) -> Result<(), JournalError> {
        let r = self.compact_inner(keep);
        if r.is_err() {
            self.compact_at = self.records + self.keep;
        }
        r
    }

    fn compact_inner<'a>(
        &mut self,
        keep: impl IntoIterator<Item = &'a MessageId>,
    ) -> Result<(), JournalError> {
        let tmp = tmp_path(&self.path);
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &tmp)(e)),
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        let mut buf = Vec::with_capacity(RECORD_LEN * (self.keep + 1));
        buf.extend_from_slice(&HEADER);
        let mut n = 0_usize;
        for id in keep {
            buf.extend_from_slice(id.as_uuid().as_bytes());
            n += 1;
        }
        let written = file
            .write_all(&buf)
            .and_then(|()| file.sync_all())
            .map_err(io_err("write", &tmp))
            .and_then(|()| fs::rename(&tmp, &self.path).map_err(io_err("rename", &tmp)));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        self.file = file;
        self.records = n;
        self.compact_at = 2 * self.keep;
        Ok(())
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(TMP_SUFFIX);
    PathBuf::from(s)
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory", dir))
}

fn to_id(rec: [u8; RECORD_LEN]) -> MessageId {
    MessageId::from_uuid(uuid::Uuid::from_bytes(rec))
}

/// Read every id of a journal file, oldest first, without opening it for writing (for tools
/// and tests). A torn last record is ignored.
pub fn read_ids(path: &Path) -> Result<Vec<MessageId>, JournalError> {
    let bytes = fs::read(path).map_err(io_err("read", path))?;
    let (head, body) = bytes.split_at(bytes.len().min(RECORD_LEN));
    if head != HEADER {
        return Err(JournalError::Foreign {
            path: path.to_owned(),
            found: hex::encode(head),
        });
    }
    Ok(body
        .chunks_exact(RECORD_LEN)
        .filter_map(|c| <[u8; RECORD_LEN]>::try_from(c).ok())
        .filter(|r| *r != [0_u8; RECORD_LEN])
        .map(to_id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trilink_schema::Nation;

    fn id(i: usize) -> MessageId {
        MessageId::derive(Nation::Jp, "journal-test", &i.to_string())
    }

    fn file_len(dir: &Path) -> u64 {
        fs::metadata(dir.join(FILE_NAME)).unwrap().len()
    }

    #[test]
    fn new_journal_has_header_and_no_ids() {
        let d = tempfile::tempdir().unwrap();
        let o = Journal::open(&d.path().join("state"), 8, false).unwrap();
        assert!(o.created);
        assert!(o.ids.is_empty());
        assert_eq!(o.records, 0);
        assert_eq!(
            fs::read(d.path().join("state").join(FILE_NAME)).unwrap(),
            HEADER
        );
    }

    #[test]
    fn reload_returns_appended_ids_in_order() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::open(d.path(), 8, false).unwrap().journal;
        for i in 0..5 {
            j.append(&id(i)).unwrap();
        }
        drop(j);
        let o = Journal::open(d.path(), 8, false).unwrap();
        assert!(!o.created);
        assert_eq!(o.records, 5);
        assert_eq!(o.torn_tail, 0);
        assert_eq!(o.ids, (0..5).map(id).collect::<Vec<_>>());
        assert_eq!(read_ids(&d.path().join(FILE_NAME)).unwrap(), o.ids);
    }

    #[test]
    fn reload_keeps_only_the_last_ids() {
        let d = tempfile::tempdir().unwrap();
        // keep 100 while writing: no compaction; reopen keeping 3.
        let mut j = Journal::open(d.path(), 100, false).unwrap().journal;
        for i in 0..10 {
            j.append(&id(i)).unwrap();
        }
        drop(j);
        let o = Journal::open(d.path(), 3, false).unwrap();
        assert_eq!(o.records, 10);
        assert_eq!(o.ids, vec![id(7), id(8), id(9)]);
    }

    #[test]
    fn torn_tail_is_cut_and_appends_stay_aligned() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::open(d.path(), 8, false).unwrap().journal;
        j.append(&id(1)).unwrap();
        j.append(&id(2)).unwrap();
        drop(j);
        // A crash in the middle of the third record.
        let mut f = OpenOptions::new()
            .append(true)
            .open(d.path().join(FILE_NAME))
            .unwrap();
        f.write_all(&id(3).as_uuid().as_bytes()[..7]).unwrap();
        drop(f);
        assert_eq!(file_len(d.path()), 16 + 32 + 7);
        let o = Journal::open(d.path(), 8, false).unwrap();
        assert_eq!(o.torn_tail, 7);
        assert_eq!(o.ids, vec![id(1), id(2)]);
        assert_eq!(file_len(d.path()), 16 + 32);
        let mut j = o.journal;
        j.append(&id(4)).unwrap();
        drop(j);
        let o = Journal::open(d.path(), 8, false).unwrap();
        assert_eq!(o.torn_tail, 0);
        assert_eq!(o.ids, vec![id(1), id(2), id(4)]);
    }

    #[test]
    fn torn_header_is_recreated() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(FILE_NAME), &HEADER[..5]).unwrap();
        let o = Journal::open(d.path(), 8, false).unwrap();
        assert!(o.created);
        assert!(o.ids.is_empty());
        assert_eq!(fs::read(d.path().join(FILE_NAME)).unwrap(), HEADER);
    }

    #[test]
    fn foreign_file_is_a_typed_error_and_left_untouched() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(FILE_NAME);
        let text = b"these are somebody else's notes, not a journal\n";
        fs::write(&path, text).unwrap();
        let e = Journal::open(d.path(), 8, false).unwrap_err();
        assert!(matches!(e, JournalError::Foreign { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains(FILE_NAME) && msg.contains("state_dir"),
            "{msg}"
        );
        assert_eq!(fs::read(&path).unwrap(), text);
        // Short and foreign.
        fs::write(&path, b"xyz").unwrap();
        assert!(matches!(
            Journal::open(d.path(), 8, false),
            Err(JournalError::Foreign { .. })
        ));
        assert!(matches!(read_ids(&path), Err(JournalError::Foreign { .. })));
    }

    #[test]
    fn a_directory_in_place_of_the_file_is_an_io_error() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join(FILE_NAME)).unwrap();
        let e = Journal::open(d.path(), 8, false).unwrap_err();
        assert!(matches!(e, JournalError::Io { op: "open", .. }), "{e:?}");
    }

    #[test]
    fn state_dir_that_is_a_file_is_an_io_error() {
        let d = tempfile::tempdir().unwrap();
        let not_dir = d.path().join("plain-file");
        fs::write(&not_dir, b"x").unwrap();
        let e = Journal::open(&not_dir, 8, false).unwrap_err();
        assert!(
            matches!(
                e,
                JournalError::Io {
                    op: "create directory",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn zero_records_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        let mut bytes = HEADER.to_vec();
        bytes.extend_from_slice(id(1).as_uuid().as_bytes());
        bytes.extend_from_slice(&[0_u8; RECORD_LEN]);
        bytes.extend_from_slice(id(2).as_uuid().as_bytes());
        fs::write(d.path().join(FILE_NAME), &bytes).unwrap();
        let o = Journal::open(d.path(), 8, false).unwrap();
        assert_eq!(o.records, 3);
        assert_eq!(o.ids, vec![id(1), id(2)]);
    }

    #[test]
    fn compaction_keeps_what_the_caller_remembers() {
        let d = tempfile::tempdir().unwrap();
        let keep = 4;
        let mut j = Journal::open(d.path(), keep, true).unwrap().journal;
        let mut remembered: VecDeque<MessageId> = VecDeque::new();
        let mut compactions = 0;
        for i in 0..21 {
            j.append(&id(i)).unwrap();
            remembered.push_back(id(i));
            if remembered.len() > keep {
                remembered.pop_front();
            }
            if j.needs_compaction() {
                j.compact(remembered.iter()).unwrap();
                compactions += 1;
                assert_eq!(j.records(), keep);
            }
            assert!(j.records() < 2 * keep);
        }
        assert!(compactions >= 3, "{compactions}");
        assert!(!d.path().join(format!("{FILE_NAME}{TMP_SUFFIX}")).exists());
        // Appends after a compaction go to the new file.
        drop(j);
        let o = Journal::open(d.path(), keep, false).unwrap();
        assert_eq!(o.ids, (17..21).map(id).collect::<Vec<_>>());
        assert!(file_len(d.path()) < (16 + 16 * 2 * keep) as u64);
    }

    #[test]
    fn stale_compaction_file_is_removed_and_the_journal_kept() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::open(d.path(), 8, false).unwrap().journal;
        j.append(&id(1)).unwrap();
        drop(j);
        let tmp = d.path().join(format!("{FILE_NAME}{TMP_SUFFIX}"));
        fs::write(&tmp, b"half-written").unwrap();
        let o = Journal::open(d.path(), 8, false).unwrap();
        assert_eq!(o.ids, vec![id(1)]);
        assert!(!tmp.exists());
    }

    #[test]
    fn failed_compaction_keeps_appending_to_the_old_file_and_retries_later() {
        let d = tempfile::tempdir().unwrap();
        let keep = 2;
        let mut j = Journal::open(d.path(), keep, false).unwrap().journal;
        for i in 0..4 {
            j.append(&id(i)).unwrap();
        }
        assert!(j.needs_compaction());
        // A directory where the temporary file goes makes the compaction fail.
        let tmp = d.path().join(format!("{FILE_NAME}{TMP_SUFFIX}"));
        fs::create_dir(&tmp).unwrap();
        fs::write(tmp.join("x"), b"x").unwrap();
        assert!(j.compact([id(2), id(3)].iter()).is_err());
        assert!(!j.needs_compaction(), "retried at once");
        j.append(&id(4)).unwrap();
        drop(j);
        let o = Journal::open(d.path(), 8, false);
        // The stale path is a non-empty directory: opening reports it instead of guessing.
        assert!(
            matches!(o, Err(JournalError::Io { op: "remove", .. })),
            "{o:?}"
        );
        fs::remove_dir_all(&tmp).unwrap();
        let o = Journal::open(d.path(), 8, false).unwrap();
        assert_eq!(o.ids, (0..5).map(id).collect::<Vec<_>>());
    }
}
