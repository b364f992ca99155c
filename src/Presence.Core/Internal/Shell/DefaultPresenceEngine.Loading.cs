using System.Threading.Channels;

namespace Presence.Internal;

/// <summary>
/// Bounded memory: local users are read from the store when needed (never all at start) and leave memory when nobody
/// needs them; remote users leave when their presence goes stale, and each peer's count of held users is exact.
/// </summary>
internal sealed partial class DefaultPresenceEngine
{
    private const int MaxUsersPerLoad = 256;

    /// <summary>Wakes the load loop; the users to read wait in <see cref="_loadQueue"/>.</summary>
    private readonly Channel<bool> _loadWake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>Guards <see cref="_loadQueue"/> and <see cref="_pendingLoads"/>; taken under a shard gate, never the reverse.</summary>
    private readonly Lock _loadsLock = new();
    private List<UserId> _loadQueue = [];
    private Dictionary<UserId, TaskCompletionSource> _pendingLoads = [];
    private Task _loader = Task.CompletedTask;

    /// <summary>An input created a local user the engine did not hold: read their record in the background. Called under a shard gate.</summary>
    private void RequestLoad(UserId user)
    {
        lock (_loadsLock)
        {
            if (_pendingLoads.TryAdd(user, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)))
            {
                _loadQueue.Add(user);
            }
        }

        _loadWake.Writer.TryWrite(true);
    }

    /// <summary>Reads the records of users created by inputs, in batches, and merges them; retried with backoff while the store fails.</summary>
    private async Task LoadLoopAsync()
    {
        var retryDelay = FirstRetryDelay;
        while (await _loadWake.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false) || _loadQueue.Count > 0)
        {
            _loadWake.Reader.TryRead(out _);
            List<UserId> batch;
            lock (_loadsLock)
            {
                if (_loadQueue.Count == 0)
                {
                    continue;
                }

                if (_loadQueue.Count <= MaxUsersPerLoad)
                {
                    batch = _loadQueue;
                    _loadQueue = []; // a burst does not pin its peak capacity
                }
                else
                {
                    batch = _loadQueue.GetRange(0, MaxUsersPerLoad);
                    _loadQueue.RemoveRange(0, MaxUsersPerLoad);
                    _loadWake.Writer.TryWrite(true); // more to read
                }
            }

            while (true)
            {
                try
                {
                    var records = await _store.LoadAsync(batch, _stopping.Token).ConfigureAwait(false);
                    MergeLoaded(batch, records, createAbsent: false);
                    retryDelay = FirstRetryDelay;
                    break;
                }
                catch (Exception ex) when (!_stopping.IsCancellationRequested)
                {
                    // The users stay loading (nothing published, nothing saved over their stored record) until it works.
                    _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "load"));
                    Log.StoreLoadRetrying(_logger, batch.Count, retryDelay, ex);
                    try
                    {
                        await Task.Delay(retryDelay, _time, _stopping.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    retryDelay = retryDelay * 2 > LastRetryDelay ? LastRetryDelay : retryDelay * 2;
                }
                catch (Exception)
                {
                    break; // stopping
                }
            }

            List<TaskCompletionSource> done = new(batch.Count);
            lock (_loadsLock)
            {
                foreach (var user in batch)
                {
                    if (_pendingLoads.Remove(user, out var waiter))
                    {
                        done.Add(waiter);
                    }
                }

                if (_pendingLoads.Count == 0 && _pendingLoads.EnsureCapacity(0) > 64)
                {
                    _pendingLoads = [];
                }
            }

            foreach (var waiter in done)
            {
                waiter.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Makes sure the local users among <paramref name="users"/> are in memory with their stored record, reading the ones
    /// the engine does not hold (one batch) and waiting for loads already running. A user without a record stays absent
    /// (unknown). Called without a lock; a store failure is logged and counted, and the read goes on with what is known.
    /// </summary>
    private async ValueTask EnsureLoadedAsync(IEnumerable<UserId> users, CancellationToken cancellationToken)
    {
        List<UserId>? absent = null;
        List<Task>? loading = null;
        foreach (var user in users)
        {
            if (!user.IsOn(_server))
            {
                continue;
            }

            var shard = ShardOf(user);
            bool held, loaded;
            lock (shard.Gate)
            {
                held = shard.Table.TryFind(user, out _);
                loaded = held && shard.Table.IsLoaded(user);
            }

            if (!held)
            {
                (absent ??= []).Add(user);
            }
            else if (!loaded)
            {
                lock (_loadsLock)
                {
                    if (_pendingLoads.TryGetValue(user, out var pending))
                    {
                        (loading ??= []).Add(pending.Task);
                    }
                }
            }
        }

        if (absent is not null)
        {
            absent = [.. absent.Distinct()];
            try
            {
                for (int at = 0; at < absent.Count; at += MaxUsersPerLoad)
                {
                    var part = absent.GetRange(at, Math.Min(MaxUsersPerLoad, absent.Count - at));
                    var records = await _store.LoadAsync(part, cancellationToken).ConfigureAwait(false);
                    MergeLoaded(part, records, createAbsent: true);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _metrics.StoreFailures.Add(1, new KeyValuePair<string, object?>("operation", "load"));
                Log.StoreLoadFailed(_logger, ex);
            }
        }

        if (loading is not null)
        {
            await Task.WhenAll(loading).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Puts what the store returned into the shards: merged into users created while loading, or (when
    /// <paramref name="createAbsent"/>) restored for users still absent. Then delivers what that published.
    /// </summary>
    private void MergeLoaded(List<UserId> users, IReadOnlyList<PresenceRecord> records, bool createAbsent)
    {
        ArgumentNullException.ThrowIfNull(records);
        var byUser = new Dictionary<UserId, PresenceRecord>(records.Count);
        var asked = new HashSet<UserId>(users);
        foreach (var record in records)
        {
            if (record is null || !record.User.IsOn(_server) || !asked.Contains(record.User))
            {
                Reject("stored_foreign_user", "the store returned a record that was not asked for");
                continue;
            }

            byUser[record.User] = record;
        }

        foreach (var user in users)
        {
            byUser.TryGetValue(user, out var record);
            var shard = ShardOf(user);
            long next;
            bool adopted = false;
            lock (shard.Gate)
            {
                long now = shard.Now(_time);
                if (shard.Table.TryFind(user, out _))
                {
                    adopted = shard.Table.MergeLoaded(user, record, now, _options.EnableBusy);
                }
                else if (createAbsent && record is not null)
                {
                    shard.Table.Load(record, now, _options.EnableBusy);
                    adopted = true;
                }

                next = shard.Table.NextDeadline;
            }

            if (adopted)
            {
                NoteVisibility(record); // a choice made while the record was read stands
            }

            RequestWake(next, long.MinValue);
        }

        if (Volatile.Read(ref _state) != Running)
        {
            return;
        }

        WithLock(static _ => { }); // delivers what the merges published
    }

    /// <summary>
    /// Forgets the users the shards found idle, unless the interest side still needs them: a local user with a subscription,
    /// a peer subscribed to them, an explicit poll or a presence-list relation; a remote user someone watches. Lock held.
    /// </summary>
    private void EvictIdleLocked()
    {
        foreach (var shard in _shards)
        {
            if (!shard.HasWork)
            {
                continue;
            }

            lock (shard.Gate)
            {
                long now = shard.Now(_time);
                foreach (var user in shard.TakeEvictable())
                {
                    if (!NeededLocked(user) && shard.Table.TryEvict(user, now, out bool remote))
                    {
                        if (remote)
                        {
                            ReleaseRemoteUserLocked(user.Server);
                        }
                        else
                        {
                            _visibility.TryRemove(user, out _); // in their record; read back with it
                        }
                    }
                }
            }
        }
    }

    private bool NeededLocked(UserId user)
    {
        if (user.IsOn(_server))
        {
            return _subscribers.ContainsKey(user) || _peerSubscribers.ContainsKey(user) || _polling.ContainsKey(user) || _observersOf.ContainsKey(user);
        }

        return _watchRefs.ContainsKey(user) || (_watching.TryGetValue(user.Server, out var watched) && watched.Contains(user));
    }

    /// <summary>One user of <paramref name="peer"/> left memory: its exact count goes down, and its entry goes with the last one.</summary>
    private void ReleaseRemoteUserLocked(ServerName peer)
    {
        if (_remoteUsers.TryGetValue(peer, out int held))
        {
            if (held <= 1)
            {
                _remoteUsers.Remove(peer);
                ReleasePeerIfIdleLocked(peer);
            }
            else
            {
                _remoteUsers[peer] = held - 1;
            }
        }
    }

    /// <summary>Drops the per-peer bookkeeping of a peer we no longer hold anything for. Lock held.</summary>
    private void ReleasePeerIfIdleLocked(ServerName peer)
    {
        if (!_remoteUsers.ContainsKey(peer) && !_subscribedBy.ContainsKey(peer) && !_watching.ContainsKey(peer) && !_pendingInvites.ContainsKey(peer) && !_roomPeers.Contains(peer))
        {
            _remindingPeers.Remove(peer);
            _protocolPeers.Remove(peer);
            _watchdogs.Untrack(peer);
        }
    }

    /// <summary>Gets how many users of <paramref name="peer"/> the engine holds (tests).</summary>
    internal int RemoteUsersHeld(ServerName peer)
    {
        lock (_lock)
        {
            return _remoteUsers.GetValueOrDefault(peer);
        }
    }

    /// <summary>Gets how many users the shards hold (tests).</summary>
    internal long UsersHeld => SumOverShards(static t => t.Count);
}
