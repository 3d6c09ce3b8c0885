fn main() {
    let mut totals = std::collections::BTreeMap::<String, u64>::new();
    for seed in 0..500u64 {
        let config = router_sim::small_config(seed);
        let max_len = config.max_frame_bytes;
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut sim = router_sim::Sim::new(config);
        let mut max_paused = 0;
        for _ in 0..400 {
            sim.apply(&router_sim::Op::random(&mut rng, max_len));
            max_paused = max_paused.max(sim.router().stats().senders_paused);
        }
        sim.settle_and_check();
        let s = sim.router().stats();
        *totals.entry("paused_seen".into()).or_default() += u64::from(max_paused > 0);
        *totals.entry("received".into()).or_default() += s.received.frames;
        *totals.entry("routed".into()).or_default() += s.routed.frames;
        for c in router_core::DropCause::ALL { *totals.entry(format!("drop_{}", c.name())).or_default() += s.dropped(c).frames; }
        for c in router_core::CloseCause::ALL { *totals.entry(format!("close_{}", c.name())).or_default() += s.closed(c); }
        *totals.entry("refused".into()).or_default() += s.connections_refused;
    }
    println!("{totals:#?}");
}
