import ArgumentParser
import CPG

/// `cpgctl listen GROUP`: joins and prints every event until enough messages came, the timeout
/// passed or a signal asked to stop; then leaves.
struct Listen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join a group and print its events as they come.",
        discussion: """
            The first two events are this member's own join and the ring the cluster runs on, \
            in either order: once the join is printed, the listener is a member. The command \
            leaves the group and exits 0 after --count messages, after --timeout seconds, or on SIGINT or SIGTERM. \
            With --json every event is one JSON object on a line of its own, written at once: \
            {"event":"message","nodeid":1,"pid":4242,"size":5,"data":"aGVsbG8="} (data in base64), \
            {"event":"membership","members":[...],"joined":[{"nodeid":1,"pid":4242,"reason":"join"}],"left":[]}, \
            {"event":"ring","ringid":{"nodeid":1,"seq":5},"members":[1]}, with --reconnect \
            {"event":"disconnected","message":"..."} and {"event":"reconnected"}, and on failure \
            {"event":"error","message":"..."}.
            """
    )

    @OptionGroup var group: GroupArgument
    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Leave after this many messages and exit 0 (0: never).")
    var count = 0

    @Option(help: ArgumentHelp("Leave after this many seconds and exit 0 (default: never).", valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "Print one JSON object per event.")
    var json = false

    @Flag(help: "Outlive corosync restarts: reconnect and rejoin, printing disconnected and reconnected events.")
    var reconnect = false

    func validate() throws {
        if self.count < 0 { throw ValidationError("--count must not be negative") }
        if let timeout = self.timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        do {
            try await self.listen()
        } catch {
            if self.json, !(error is OutputError) {
                let message = (error as? CPGError)?.description ?? String(describing: error)
                try? Output.line(JSON.error(message))
            }
            throw error
        }
    }

    private func listen() async throws {
        let name = try self.group.name()
        try await GroupStopper.run(timeout: self.timeout) { stopper in
            var configuration = self.connection.configuration
            if self.reconnect { configuration.reconnect = CPGReconnectPolicy() }
            let group = try await CPGGroup.join(name, configuration: configuration)
            let events = group.events
            stopper.attach(group)
            do {
                var messages = 0
                for try await event in events {
                    try Output.line(self.json ? JSON.event(event) : EventText.line(event))
                    if case .message = event {
                        messages += 1
                        if messages == self.count { break }
                    }
                }
                try await group.leave()
            } catch {
                try? await group.leave()
                throw error
            }
        }
    }
}
