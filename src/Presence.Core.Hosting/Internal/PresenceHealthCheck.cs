using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Presence.Internal;

/// <summary>
/// Reports the engine's health from <see cref="PresenceEngine.GetStatus"/>: unhealthy when not running, degraded when the
/// store or peers are failing or a queue is over its threshold (<see cref="PresenceHealthCheckOptions"/>).
/// </summary>
internal sealed class PresenceHealthCheck(IPresenceEngine engine, IOptionsMonitor<PresenceHealthCheckOptions> options, string name) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        => Task.FromResult(Check(PresenceEngine.GetStatus(engine), options.Get(name)));

    internal static HealthCheckResult Check(PresenceEngineStatus? status, PresenceHealthCheckOptions limits)
    {
        if (status is null)
        {
            return HealthCheckResult.Healthy("The presence engine does not report a status (not created by PresenceEngine.Create).");
        }

        var data = new Dictionary<string, object>
        {
            ["started"] = status.IsStarted,
            ["store"] = status.ConsecutiveStoreFailures > 0 ? "failing" : "ok",
            ["store_consecutive_failures"] = status.ConsecutiveStoreFailures,
            ["failing_peers"] = status.FailingDestinations,
            ["outbound_queue_depth"] = status.OutboundQueueDepth,
            ["unsaved_users"] = status.UnsavedUsers,
            ["loads_pending"] = status.PendingLoads,
        };

        if (!status.IsStarted)
        {
            return HealthCheckResult.Unhealthy(status.IsStopped ? "The presence engine is stopped." : "The presence engine has not started.", data: data);
        }

        var problems = new List<string>();
        if (status.ConsecutiveStoreFailures > 0)
        {
            problems.Add($"the store failed {status.ConsecutiveStoreFailures} save(s) in a row (retrying)");
        }

        if (status.FailingDestinations > 0)
        {
            problems.Add($"{status.FailingDestinations} peer server(s) failing (retrying with backoff)");
        }

        if (status.OutboundQueueDepth > limits.MaxOutboundQueueDepth)
        {
            problems.Add($"{status.OutboundQueueDepth} entries queued for other servers (threshold {limits.MaxOutboundQueueDepth})");
        }

        if (status.UnsavedUsers > limits.MaxUnsavedUsers)
        {
            problems.Add($"{status.UnsavedUsers} users not yet saved (threshold {limits.MaxUnsavedUsers})");
        }

        if (status.PendingLoads > limits.MaxPendingLoads)
        {
            problems.Add($"{status.PendingLoads} store reads pending (threshold {limits.MaxPendingLoads})");
        }

        return problems.Count == 0
            ? HealthCheckResult.Healthy("The presence engine is running.", data)
            : HealthCheckResult.Degraded("The presence engine is degraded: " + string.Join("; ", problems) + ".", data: data);
    }
}
