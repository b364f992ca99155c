namespace Presence.Internal;

/// <summary>Sync scopes and the presence stream a host's <c>/sync</c> reads.</summary>
internal sealed partial class DefaultPresenceEngine
{
    public IDisposable OpenSync(UserId user, string deviceId, PresenceState? setPresence = null)
    {
        ValidateDevice(user, deviceId);
        if (setPresence is { } state)
        {
            ValidateSettable(state, nameof(setPresence));
        }

        var shard = ShardOf(user, out int hash);
        long next;
        bool changed;
        lock (shard.Gate)
        {
            ThrowIfNotRunning();
            changed = shard.Table.OpenSync(user, hash, deviceId, setPresence, shard.Now(_time));
            next = shard.Table.NextDeadline;
        }

        if (changed)
        {
            AfterShardInput(shard, next);
        }

        return new SyncScope(this, user, hash, deviceId);
    }

    /// <summary>A sync scope closed: the device's sync timeout starts when it was the last. Does nothing once the engine stopped.</summary>
    internal void CloseSync(UserId user, int hash, string deviceId)
    {
        var shard = _shards[StableHash.ShardOf(hash, _shards.Length)];
        long next;
        lock (shard.Gate)
        {
            if (_state != Running || !shard.Table.CloseSync(user, hash, deviceId, shard.Now(_time)))
            {
                return;
            }

            next = shard.Table.NextDeadline;
        }

        RequestWake(next, long.MinValue);
    }

    public ValueTask<PresenceChanges> GetChangesSinceAsync(UserId viewer, PresenceStreamToken since, int limit = 1000, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException("api9 placeholder");

    public ValueTask<PresenceChanges> WaitForChangesAsync(UserId viewer, PresenceStreamToken since, TimeSpan timeout, int limit = 1000, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException("api9 placeholder");
}
