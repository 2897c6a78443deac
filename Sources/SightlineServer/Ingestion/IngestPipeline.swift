package import Logging
package import SightlineCore
package import SightlineStorageCore
import Synchronization

/// Sees each batch once it is durable and applied: live tail, derived metrics. Called on the ingesting request's task
/// (not during WAL replay), so it must be quick and must not block; called concurrently.
package protocol StoredBatchObserver: Sendable {
    func stored(_ batch: TenantBatch)
}

/// The one path every protocol's data takes: validate → limits → tenant → WAL → signal store.
///
/// A protocol handler decodes bytes into a ``DecodedBatch`` and calls ``ingest(_:tenant:protocol:bytes:)``; when that
/// returns, every accepted record is durable in the WAL (per its fsync policy) and applied to its store — or, with a
/// ``QueuePublisher`` (`queue.publish`), durable in the JetStream queue, from which a server stores it. The WAL's
/// writer applies batches to the stores in WAL order, so a store never sees them out of order and a checkpoint can
/// name an exact WAL segment.
package final class IngestPipeline: Sendable {
    let wal: WriteAheadLog
    private let stores: [Signal: any SignalStore]
    private let validator: BatchValidator
    private let metrics: ServerMetrics
    private let logger: Logger
    private let isReadyFlag = Atomic<Bool>(false)
    private let appendsSinceCheckpoint = Atomic<Int>(0)
    /// Whether a checkpoint is running.
    private let checkpointing = Atomic<Bool>(false)
    /// Followers of new log records (Loki's tail).
    package let logTail = LogTail()
    /// What else sees every stored batch (derived signals such as span metrics), after ``logTail``.
    private let observers: [any StoredBatchObserver]
    /// Ids of accepted batches, so a retried batch is acknowledged without being stored twice; nil turns that off.
    package let deduplicator: BatchDeduplicator?
    /// With `queue.publish`: where batches received directly go instead of the WAL (the shared JetStream queue).
    private let publisher: QueuePublisher?

    /// Set while a batch must be stored by this server even when it publishes direct pushes: one taken from the
    /// queue (``QueueConsumer`` runs its messages inside it, so nothing is published twice), and rule output, which
    /// later rules of its group read.
    @TaskLocal package static var storesHere = false

    /// What became of one request's records.
    package struct Outcome: Sendable, Equatable {
        package var accepted: Int
        package var rejected: Int
        /// Why records were rejected; empty when none were.
        package var message: String
    }

    package init(
        wal: WriteAheadLog, stores: [any SignalStore], limits: IngestLimits, metrics: ServerMetrics, logger: Logger,
        observers: [any StoredBatchObserver] = [], deduplicator: BatchDeduplicator? = nil, publisher: QueuePublisher? = nil
    ) {
        self.wal = wal
        self.deduplicator = deduplicator
        self.publisher = publisher
        self.observers = observers
        self.stores = Dictionary(stores.map { ($0.signal, $0) }, uniquingKeysWith: { first, _ in first })
        self.validator = BatchValidator(limits: limits)
        self.metrics = metrics
        self.logger = logger
    }

    /// Whether WAL replay has finished and ingestion is open.
    package var isReady: Bool { isReadyFlag.load(ordering: .acquiring) }

    /// Throws `unavailable` until WAL replay has finished.
    private func requireReady() throws {
        guard isReady else { throw SightlineError(.unavailable, "the server is starting: WAL replay is not finished") }
    }

    /// Replays the WAL segments the stores have not persisted, then opens ingestion.
    /// - Returns: the number of batches applied.
    @discardableResult
    package func replayAndOpen() throws -> Int {
        let oldest = stores.values.map(\.persistedSegment).min() ?? -1
        var applied = 0
        // Metrics records name series their segment defined earlier: one table per segment, read in order.
        var seriesTable: WALSeriesTable?
        var tableSegment = -1
        let replayed = try wal.replay(afterSegment: oldest) { position, payload in
            if position.segment != tableSegment {
                seriesTable = WALSeriesTable()
                tableSegment = position.segment
            }
            let (id, batch, _) = try BatchDeduplicator.decodeWALPayload(payload, seriesTable: &seriesTable)
            if let id { deduplicator?.accept(id) }
            guard let store = stores[batch.batch.signal] else { return }
            guard position.segment > store.persistedSegment else { return }
            try store.apply(batch, at: position)
            applied += 1
        }
        logger.info(
            "WAL replay done",
            metadata: ["records": "\(replayed)", "applied": "\(applied)", "after_segment": "\(oldest)"]
        )
        isReadyFlag.store(true, ordering: .releasing)
        metrics.setReady(true)
        metrics.walSize(bytes: wal.totalBytes)
        return applied
    }

    /// Validates, stamps with `tenant`, logs durably and stores a decoded batch.
    /// - Parameters:
    ///   - decoded: what the protocol decoder produced, with its own rejections.
    ///   - tenant: the caller's tenant; every stored record belongs to it.
    ///   - protocol: the protocol name for metrics (`otlp_http`, `otlp_grpc`, …).
    ///   - bytes: the request's size, for metrics.
    ///   - batchID: the sender's id of this batch (`X-Sightline-Batch-ID`): a batch whose id was already accepted is
    ///     acknowledged (accepted 0, rejected 0) without being stored again. The id is kept in the WAL record.
    /// - Returns: how many records were accepted and rejected, and why.
    /// - Throws: `unavailable` before replay has finished or while a batch with the same id is being stored; WAL and
    ///   store errors (nothing was acknowledged then).
    package func ingest(
        _ decoded: DecodedBatch, tenant: Tenant, protocol name: String, bytes: Int, batchID: String? = nil
    ) async throws -> Outcome {
        try requireReady()
        guard let batchID, let deduplicator else {
            return try await ingestOnce(decoded, tenant: tenant, protocol: name, bytes: bytes, batchID: nil)
        }
        try BatchDeduplicator.validate(batchID)
        switch deduplicator.reserve(batchID) {
        case .duplicate:
            metrics.duplicateBatch(protocol: name)
            return Outcome(accepted: 0, rejected: 0, message: "")
        case .inFlight:
            throw SightlineError(.unavailable, "batch \(batchID) is being stored by another request: retry")
        case .reserved:
            do {
                let outcome = try await ingestOnce(decoded, tenant: tenant, protocol: name, bytes: bytes, batchID: batchID)
                // Accepted in the WAL callback when anything was stored; nothing stored needs no memory.
                deduplicator.release(batchID)
                return outcome
            } catch {
                deduplicator.release(batchID)
                throw error
            }
        }
    }

    /// ``ingest(_:tenant:protocol:bytes:batchID:)`` after de-duplication.
    private func ingestOnce(
        _ decoded: DecodedBatch, tenant: Tenant, protocol name: String, bytes: Int, batchID: String?
    ) async throws -> Outcome {
        let signal = decoded.batch.signal
        metrics.rejected(signal, reason: "decode", records: decoded.rejected)
        guard let store = stores[signal] else { throw SightlineError(.internal, "no store for \(signal)") }
        let validated = validator.validate(decoded.batch)
        let admission = store.admit(TenantBatch(tenant: tenant, batch: validated.batch))
        for (reason, count) in validated.rejections.merging(admission.rejections, uniquingKeysWith: +) {
            metrics.rejected(signal, reason: reason, records: count)
        }
        let rejected = decoded.rejected + validated.rejected + admission.rejected
        let message = [decoded.rejectionMessage, validated.message, admission.message].filter { !$0.isEmpty }.joined(separator: "; ")
        guard !admission.batch.isEmpty else { return Outcome(accepted: 0, rejected: rejected, message: message) }

        let batch = TenantBatch(tenant: tenant, batch: admission.batch)
        // The request as received stands for the batch only when nothing of it was refused or changed on the way.
        let unchanged = rejected == 0 && validated.truncated == 0 && batch.batch.recordCount == decoded.request?.recordCount
        let payload = { BatchDeduplicator.walPayload(id: batchID, batch: batch, request: unchanged ? decoded.request : nil) }
        let deduplicator = self.deduplicator
        if let publisher, !Self.storesHere {
            // Acknowledged once JetStream has it; the server that takes it from the queue stores it (and tails it).
            try await publisher.publish(payload(), batchID: batchID)
            if let batchID { deduplicator?.accept(batchID) }
            metrics.published(signal, protocol: name, records: batch.batch.recordCount, bytes: bytes)
        } else {
            let onDurable: @Sendable (WALPosition) throws -> Void = { position in
                // The id is accepted as soon as its data is durable, before the store applies it: the record is in the
                // WAL from here on, even if applying throws.
                if let batchID { deduplicator?.accept(batchID) }
                try store.apply(batch, at: position)
            }
            if case .metrics(let metrics) = batch.batch, metrics.resolvedRefs != nil {
                // Encoded by the WAL writer, which names series its segment holds already by number (~11 bytes a
                // sample instead of its labels: a fifth of the bytes to checksum, copy and write).
                _ = try await wal.append(encodedBy: { writer, scope in
                    BatchDeduplicator.writeSegmentScopedPayload(id: batchID, batch: batch, into: &writer, scope: scope)
                }, onDurable: onDurable)
            } else if unchanged, let request = decoded.request {
                // The body goes into the WAL writer's buffer directly: one copy fewer than through a payload.
                let tenant = batch.tenant
                _ = try await wal.append(encodedBy: { writer, _ in
                    BatchDeduplicator.writeRequestPayload(id: batchID, tenant: tenant, request: request, into: &writer)
                }, onDurable: onDurable)
            } else {
                _ = try await wal.append(payload(), onDurable: onDurable)
            }
            appendsSinceCheckpoint.add(1, ordering: .relaxed)
            logTail.stored(batch)
            for observer in observers { observer.stored(batch) }
            metrics.ingested(signal, protocol: name, records: batch.batch.recordCount, bytes: bytes)
        }
        metrics.truncatedLogBodies(validated.truncated)
        return Outcome(accepted: batch.batch.recordCount, rejected: rejected, message: message)
    }

    /// Deletes stored records of `tenant`: `deletions` (a batch holding only deletions) is logged in the WAL and
    /// applied in order with the batches around it, so a replay deletes again what was written before it and keeps
    /// what came after. Returns once the store has applied it.
    /// A store of records other servers write too (``ExternalDeletingStore``, ClickHouse) deletes at once instead,
    /// after a checkpoint: nothing written before the deletion stays in the WAL to come back at a replay.
    /// - Throws: `unavailable` before replay has finished, when the signal's store does not delete, and when batches
    ///   go to a JetStream queue (the servers that store them are elsewhere); WAL and store errors.
    package func delete(_ deletions: SignalBatch, tenant: Tenant) async throws {
        let signal = deletions.signal
        try requireReady()
        guard publisher == nil else {
            throw SightlineError(.unavailable, "deleting \(signal) is not supported while ingestion goes through a JetStream queue")
        }
        if let store = stores[signal] as? any ExternalDeletingStore {
            try await checkpoint()
            try await store.delete(deletions, tenant: tenant)
        } else if let store = stores[signal] as? any DeletingStore {
            let batch = TenantBatch(tenant: tenant, batch: deletions)
            _ = try await wal.append(batch.encoded()) { position in try store.apply(batch, at: position) }
            appendsSinceCheckpoint.add(1, ordering: .relaxed)
        } else {
            throw SightlineError(.unavailable, "deleting \(signal) needs the embedded \(signal) engine; this server keeps \(signal) in ClickHouse")
        }
        logger.info("records deleted", metadata: ["tenant": "\(tenant)", "signal": "\(signal)"])
    }

    /// Persists what the stores hold and removes the WAL segments they no longer need. Skipped when nothing arrived.
    /// One checkpoint runs at a time (the periodic one, a deletion's, the one at shutdown).
    package func checkpoint() async throws {
        while !checkpointing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            // Not a throwing sleep: a cancelled task (the shutdown's) must still wait for the running checkpoint.
            if Task.isCancelled {
                await Task.yield()
            } else {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        defer { checkpointing.store(false, ordering: .releasing) }
        guard appendsSinceCheckpoint.exchange(0, ordering: .acquiringAndReleasing) > 0 else { return }
        let closed = try await wal.rotate()
        // Ids of batches in the segments about to be dropped must outlive them.
        try deduplicator?.persist()
        for store in stores.values { try await store.persist(throughSegment: closed) }
        try wal.removeSegments(through: closed)
        metrics.walSize(bytes: wal.totalBytes)
        logger.debug("checkpoint done", metadata: ["through_segment": "\(closed)"])
    }

    /// Closes ingestion, checkpoints, and closes the WAL (flushed and fsynced).
    package func shutdown() async throws {
        isReadyFlag.store(false, ordering: .releasing)
        metrics.setReady(false)
        await publisher?.close()
        try await checkpoint()
        try await wal.close()
    }
}
