extension CPGGroup {
    /// Returns once the group has let go of a handle after it stopped reading: finalized it, or
    /// held it back for a fragmented send that still uses it (for tests).
    func waitUntilHandleReleased() async {
        guard self.handlesReleased == 0 else { return }
        await withCheckedContinuation { self.handleReleaseWaiters.append($0) }
    }
}
