"""Running the advocacy program (DESIGN §7): candidates, the ask ledger and its policy, rewards,
consent and erasure."""
