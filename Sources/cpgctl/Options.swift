import ArgumentParser
import CPG

/// The options of every command that talks to corosync.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("netns"),
        help: ArgumentHelp(
            "Talk to the corosync of another network namespace, named by its namespace file (such as /run/netns/NAME, which `ip netns add NAME` creates).",
            valueName: "path"
        )
    )
    var networkNamespace: String?

    /// The library configuration these options describe.
    var configuration: CPGConfiguration {
        var configuration = CPGConfiguration()
        configuration.networkNamespace = self.networkNamespace
        return configuration
    }
}

/// The group a command works on.
struct GroupArgument: ParsableArguments {
    @Argument(help: "The group's name: its UTF-8 bytes, 1 to 128 of them (the NUL of --nul included).")
    var group: String

    @Flag(
        name: .customLong("nul"),
        help: "Append a NUL byte to the name, as Pacemaker and Proxmox name their groups."
    )
    var includingNULTerminator = false

    /// The group's name, validated by the library (1 to 128 bytes).
    func name() throws(CPGError) -> CPGGroupName {
        try CPGGroupName(self.group, includingNULTerminator: self.includingNULTerminator)
    }
}

extension Duration {
    /// A duration from a number of seconds given on the command line.
    init(commandLineSeconds seconds: Double) {
        self = .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
