import Logging
import SightlineAlerting
import ServiceLifecycle
import UnixSignals

/// Runs the rule evaluator: waits until the WAL replay is over (so rules see the stored data and can write), loads
/// the rule files, then evaluates every group on its interval until graceful shutdown.
struct RuleEvaluationService: Service {
    let runtime: AlertingRuntime
    let pipeline: IngestPipeline
    let logger: Logger
    /// With several servers, evaluate only while holding the lease; nil evaluates always.
    var leadership: AlertingLeadership?

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !pipeline.isReady {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await runtime.loadRules()
            guard let leadership else {
                await runtime.rules.run()
                return
            }
            let runtime = self.runtime
            await leadership.run(logger: logger, shared: runtime.shared, rules: runtime.rules, notifier: runtime.notifier) { await runtime.rules.run() }
        }
    }
}

/// Runs the notifier's flush-and-send loop until graceful shutdown; what it has not sent yet stays in its state
/// files and is sent after the next start.
struct NotifierService: Service {
    let runtime: AlertingRuntime

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await runtime.notifier.run()
        }
    }
}

/// Reloads the rule files and the Alertmanager config on SIGHUP, as Prometheus and Alertmanager do. A bad file is
/// logged and the running configuration stays.
struct ReloadSignalService: Service {
    let runtime: AlertingRuntime
    let signals: [UnixSignal]
    let logger: Logger

    func run() async throws {
        guard !signals.isEmpty else {
            // Returning would stop the group: stay until shutdown.
            try? await gracefulShutdown()
            return
        }
        let sequence = await UnixSignalsSequence(trapping: signals)
        await cancelWhenGracefulShutdown {
            for await signal in sequence {
                logger.info("reloading alerting configuration", metadata: ["signal": "\(signal)"])
                do {
                    try await runtime.reload()
                } catch {
                    logger.error("reload failed; the previous configuration stays", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
