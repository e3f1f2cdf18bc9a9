//! The Multi-Paxos cluster's key-value client: Raft's closed-loop client
//! ([`crate::models::raft::client::KvClient`]) speaking this model's
//! messages, so both models are driven by the same commands, retries and
//! dedup by (client, seq), and their histories compare like for like.

use super::msg::MpMsg;
use crate::models::raft::client::{KvClient, KvClientMsg};
use crate::models::raft::msg::{ClientCommand, Outcome};

impl KvClientMsg for MpMsg {
    const CLIENT: &'static str = "MpClient";
    fn request(command: ClientCommand) -> MpMsg {
        MpMsg::ClientRequest(command)
    }
    fn reply(self) -> Option<(u64, Outcome)> {
        match self {
            MpMsg::ClientReply { seq, outcome } => Some((seq, outcome)),
            _ => None,
        }
    }
}

/// A client of the Multi-Paxos cluster.
pub type MpClient = KvClient<MpMsg>;
