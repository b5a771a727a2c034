extension CPGNode {
    /// One nodelist key: `nodelist.node.<index>.<field>`.
    struct NodelistField: Hashable {
        enum Kind: Hashable {
            case nodeID
            case name
            /// `ring<link>_addr`.
            case address(link: Int)
        }

        /// The `N` of `nodelist.node.N`: the node's position in corosync.conf.
        var index: Int
        var kind: Kind

        /// Parses a key; `nil` for keys that describe no node id, name or address (such as
        /// `nodelist.local_node_pos` or `nodelist.node.0.quorum_votes`).
        init?(key: String) {
            guard key.hasPrefix(LibCMapHandle.nodelistPrefix) else { return nil }
            let parts = key.dropFirst(LibCMapHandle.nodelistPrefix.count).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let index = Int(parts[0]), index >= 0 else { return nil }
            let field = parts[1]
            switch field {
            case "nodeid":
                self.kind = .nodeID
            case "name":
                self.kind = .name
            default:
                guard field.hasPrefix("ring"), field.hasSuffix("_addr"),
                    let link = Int(field.dropFirst("ring".count).dropLast("_addr".count)), link >= 0
                else { return nil }
                self.kind = .address(link: link)
            }
            self.index = index
        }
    }

    /// The nodes a nodelist describes, from its keys and values as text
    /// (`"nodelist.node.0.nodeid": "1"`, `"nodelist.node.0.name": "node1"`, ...), by node id.
    ///
    /// A node without a valid `nodeid` is left out: corosync 3 requires one for knet, and there
    /// is no id to map it from.
    static func nodelist(_ values: [String: String]) -> [CPGNode] {
        var nodeIDs: [Int: UInt32] = [:]
        var names: [Int: String] = [:]
        var addresses: [Int: [Int: String]] = [:]
        for (key, value) in values {
            guard let field = NodelistField(key: key) else { continue }
            switch field.kind {
            case .nodeID:
                nodeIDs[field.index] = UInt32(value)
            case .name:
                names[field.index] = value
            case .address(let link):
                addresses[field.index, default: [:]][link] = value
            }
        }
        return nodeIDs.map { index, nodeID in
            let links = addresses[index] ?? [:]
            return CPGNode(nodeID: nodeID, name: names[index], addresses: links.keys.sorted().map { links[$0]! })
        }
        .sorted { $0.nodeID < $1.nodeID }
    }
}
