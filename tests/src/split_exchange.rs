//! The `router-client` crate's split halves, checked the same way over
//! plain TCP and over TLS: two clients send to each other from their
//! sending halves while their receiving halves read, then close in order.

use router_client::{Error, blocking};

use crate::within;

/// How many frames each client sends in [`tokio_split_exchange`] and
/// [`blocking_split_exchange`]; the router routes twice as many.
pub const SPLIT_FRAMES: usize = 1000;

fn numbered(seq: usize) -> Vec<u8> {
    format!("frame {seq}").into_bytes()
}

/// Splits both tokio clients, sends [`SPLIT_FRAMES`] each way from one task
/// while the other receives (every frame whole and in order), then closes
/// both sending halves: each receiving half then reads the end.
pub async fn tokio_split_exchange(
    alice: router_client::tokio::Client,
    bob: router_client::tokio::Client,
) -> Result<(), Error> {
    let (alice_id, bob_id) = (alice.id(), bob.id());
    let (mut alice_tx, mut alice_rx) = alice.split();
    let (mut bob_tx, mut bob_rx) = bob.split();
    let sends = async {
        for seq in 0..SPLIT_FRAMES {
            alice_tx.send(bob_id, &numbered(seq)).await?;
            bob_tx.send(alice_id, &numbered(seq)).await?;
        }
        Ok::<_, Error>(())
    };
    let receives = async {
        for seq in 0..SPLIT_FRAMES {
            assert_eq!(bob_rx.recv().await?, Some(numbered(seq)));
            assert_eq!(alice_rx.recv().await?, Some(numbered(seq)));
        }
        Ok::<_, Error>(())
    };
    let (sent, received) =
        within("split exchange", async { tokio::join!(sends, receives) }).await?;
    sent?;
    received?;

    alice_tx.close().await?;
    assert_eq!(within("close", alice_rx.recv()).await??, None);
    bob_tx.close().await?;
    assert_eq!(within("close", bob_rx.recv()).await??, None);
    Ok(())
}

/// As [`tokio_split_exchange`], for blocking clients: the sending halves
/// on a thread of their own, the receiving halves on the caller's.
pub fn blocking_split_exchange(
    alice: blocking::Client,
    bob: blocking::Client,
) -> Result<(), Error> {
    let (alice_id, bob_id) = (alice.id(), bob.id());
    let (mut alice_tx, mut alice_rx) = alice.split();
    let (mut bob_tx, mut bob_rx) = bob.split();
    let sender = std::thread::spawn(move || -> Result<_, Error> {
        for seq in 0..SPLIT_FRAMES {
            alice_tx.send(bob_id, &numbered(seq))?;
            bob_tx.send(alice_id, &numbered(seq))?;
        }
        Ok((alice_tx, bob_tx))
    });
    for seq in 0..SPLIT_FRAMES {
        assert_eq!(bob_rx.recv()?, Some(numbered(seq)));
        assert_eq!(alice_rx.recv()?, Some(numbered(seq)));
    }
    let (alice_tx, bob_tx) = sender.join().expect("sender thread")?;
    alice_tx.close()?;
    assert_eq!(alice_rx.recv()?, None);
    bob_tx.close()?;
    assert_eq!(bob_rx.recv()?, None);
    Ok(())
}
