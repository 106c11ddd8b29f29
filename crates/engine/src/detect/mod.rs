//! Detectors: everything that turns events into [`Alert`]s.
//!
//! A detector sees every event once, in input order ([`Detector::observe`]), and gets a last
//! word at the end of input ([`Detector::finish`]) for what needs the whole picture
//! (correlation windows still open, baselines). A detector that cannot work on the input (no
//! sign-in logs for a sign-in join) says so in a note: it never silently passes.

pub mod apps;
pub mod baseline;
pub mod builtin_rules;
mod bulk;
pub mod interest;
pub mod ioc;
pub mod mail_read;
pub mod mailbox;
mod replay;
mod shared;
pub mod sigma;
pub mod signins;
mod spill;
pub mod verdicts;

use crate::alert::Alert;
use crate::event::Event;

/// Something that raises detections from events.
pub trait Detector {
    /// A short name for messages.
    fn name(&self) -> &str;

    /// Sees one event; pushes any detections it raises now.
    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>);

    /// End of input: pushes detections that needed it, and notes for the reader.
    fn finish(&mut self, out: &mut Vec<Alert>, notes: &mut Vec<String>);
}
