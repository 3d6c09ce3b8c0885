//! The two processes' messages, as payloads: short lines of text.

/// What the dispatcher sends the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// Count the primes below `below`, and send the result to `reply_to`.
    Job { reply_to: u32, below: u32 },
    /// No more jobs: exit.
    Stop,
}

impl Request {
    pub(crate) fn encode(self) -> String {
        match self {
            Request::Job { reply_to, below } => format!("job {reply_to} {below}"),
            Request::Stop => "stop".into(),
        }
    }

    pub(crate) fn decode(payload: &[u8]) -> Option<Request> {
        let text = std::str::from_utf8(payload).ok()?;
        if text == "stop" {
            return Some(Request::Stop);
        }
        let mut words = text.strip_prefix("job ")?.split(' ');
        let reply_to = words.next()?.parse().ok()?;
        let below = words.next()?.parse().ok()?;
        words
            .next()
            .is_none()
            .then_some(Request::Job { reply_to, below })
    }
}

/// The worker's answer to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) below: u32,
    pub(crate) primes: u32,
}

impl Reply {
    pub(crate) fn encode(self) -> String {
        format!("{} {}", self.below, self.primes)
    }

    pub(crate) fn decode(payload: &[u8]) -> Option<Reply> {
        let (below, primes) = std::str::from_utf8(payload).ok()?.split_once(' ')?;
        Some(Reply {
            below: below.parse().ok()?,
            primes: primes.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for request in [
            Request::Job {
                reply_to: 7,
                below: 100,
            },
            Request::Stop,
        ] {
            assert_eq!(Request::decode(request.encode().as_bytes()), Some(request));
        }
        let reply = Reply {
            below: 100,
            primes: 25,
        };
        assert_eq!(Reply::decode(reply.encode().as_bytes()), Some(reply));
        assert_eq!(Request::decode(b"job 1"), None);
        assert_eq!(Request::decode(b"job 1 2 3"), None);
        assert_eq!(Reply::decode(b"\xff"), None);
    }
}
