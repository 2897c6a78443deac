/// Drain, the clustering of log lines into patterns that Loki's pattern detection uses (He et al., "Drain: An Online
/// Log Parsing Approach with Fixed Depth Tree"), with Loki's settings.
///
/// Lines of equal token count are routed down a prefix tree by their first tokens (a token with a digit, or one past
/// a node's child limit, goes under the placeholder); in the leaf, the line joins the cluster whose template has the
/// most equal tokens position by position, if at least ``similarityThreshold`` of them are, and the template's
/// differing tokens become placeholders; otherwise it starts a cluster. At most ``maxClusters`` live, the least
/// recently used dropped first.
struct Drain {
    static let maxNodeDepth = 28
    static let similarityThreshold = 0.3
    static let maxChildren = 15
    static let maxClusters = 300
    static let minTokens = 4
    static let maxTokens = 80

    /// A pattern: its template and the first line's spaces (for joining), and its counts.
    struct Cluster {
        var tokens: [String]
        var spaces: [Int]
        var lastUsed: Int
        /// Lines per bucket start (ms).
        var counts: [Int64: Int]

        /// Takes a line: the tokens it differs in become placeholders.
        mutating func merge(_ line: [String], at clock: Int, bucket: Int64) {
            for index in tokens.indices where tokens[index] != line[index] && tokens[index] != LogPatternTokenizer.placeholder {
                tokens[index] = LogPatternTokenizer.placeholder
            }
            lastUsed = clock
            counts[bucket, default: 0] += 1
        }
    }

    private final class Node {
        var children: [String: Node] = [:]
        var clusters: [Int] = []
    }

    private let root = Node()
    private(set) var clusters: [Int: Cluster] = [:]
    private var nextID = 1
    private var clock = 0

    /// Adds a line's tokens, counted in the bucket starting at `bucket`.
    mutating func train(_ line: LogPatternTokenizer.Tokens, bucket: Int64) {
        let tokens = line.tokens
        guard tokens.count >= Self.minTokens, tokens.count <= Self.maxTokens else { return }
        clock += 1
        if let id = search(tokens) {
            clusters[id]!.merge(tokens, at: clock, bucket: bucket)
            return
        }
        let id = nextID
        nextID += 1
        clusters[id] = Cluster(tokens: tokens, spaces: line.spaces, lastUsed: clock, counts: [bucket: 1])
        if clusters.count > Self.maxClusters, let oldest = clusters.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            clusters[oldest] = nil
        }
        insert(id, tokens)
    }

    /// The live cluster in the leaf `tokens` lead to that is most like them, if alike enough.
    private func search(_ tokens: [String]) -> Int? {
        guard var node = root.children[String(tokens.count)] else { return nil }
        var depth = 1
        for token in tokens {
            if depth >= Self.maxNodeDepth || depth == tokens.count { break }
            guard let next = node.children[token] ?? node.children[LogPatternTokenizer.placeholder] else { return nil }
            node = next
            depth += 1
        }
        var best: (id: Int, similarity: Double, parameters: Int)?
        for id in node.clusters {
            guard let cluster = clusters[id] else { continue }
            var equal = 0
            var parameters = 0
            for (mine, theirs) in zip(cluster.tokens, tokens) {
                if mine == LogPatternTokenizer.placeholder {
                    parameters += 1
                } else if mine == theirs {
                    equal += 1
                }
            }
            let similarity = Double(equal) / Double(cluster.tokens.count)
            if best == nil || similarity > best!.similarity || (similarity == best!.similarity && parameters > best!.parameters) {
                best = (id, similarity, parameters)
            }
        }
        guard let best, best.similarity >= Self.similarityThreshold else { return nil }
        return best.id
    }

    /// Files a new cluster under the path of its tokens.
    private func insert(_ id: Int, _ tokens: [String]) {
        let count = String(tokens.count)
        let first = root.children[count] ?? Node()
        root.children[count] = first
        var node = first
        var depth = 1
        for token in tokens {
            if depth >= Self.maxNodeDepth || depth >= tokens.count {
                node.clusters = node.clusters.filter { clusters[$0] != nil } + [id]
                return
            }
            if let next = node.children[token] {
                node = next
            } else if token.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) {
                node = child(LogPatternTokenizer.placeholder, of: node)
            } else if node.children[LogPatternTokenizer.placeholder] != nil {
                node = node.children.count < Self.maxChildren ? child(token, of: node) : node.children[LogPatternTokenizer.placeholder]!
            } else {
                node = node.children.count + 1 < Self.maxChildren ? child(token, of: node) : child(LogPatternTokenizer.placeholder, of: node)
            }
            depth += 1
        }
        node.clusters = node.clusters.filter { clusters[$0] != nil } + [id]
    }

    /// The child `key` of `node`, made when missing.
    private func child(_ key: String, of node: Node) -> Node {
        if let existing = node.children[key] { return existing }
        let made = Node()
        node.children[key] = made
        return made
    }
}
