namespace Presence.Internal;

/// <summary>The read-only status a health check reads: counters the engine keeps, taken without calling the host.</summary>
internal sealed partial class DefaultPresenceEngine
{
    /// <summary>Store saves failed in a row; reset by a successful save (<see cref="SaveAsync"/>).</summary>
    private int _consecutiveSaveFailures;

    public PresenceEngineStatus GetStatus()
    {
        int state = Volatile.Read(ref _state);
        // A user read back while they changed is listed again when their record is merged, so count each once.
        var unsaved = new HashSet<UserId>();
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                unsaved.UnionWith(shard.Dirty);
            }
        }

        int loads;
        lock (_loadsLock)
        {
            loads = _pendingLoads.Count;
        }

        return new PresenceEngineStatus(
            isStarted: state == Running,
            isStopped: state == Disposed,
            consecutiveStoreFailures: Volatile.Read(ref _consecutiveSaveFailures),
            failingDestinations: _outbound?.FailingDestinations ?? 0,
            outboundQueueDepth: _outbound?.QueuedEntries ?? 0,
            unsavedUsers: unsaved.Count,
            pendingLoads: loads);
    }
}
