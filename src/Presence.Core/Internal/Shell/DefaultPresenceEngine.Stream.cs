namespace Presence.Internal;

/// <summary>Sync scopes and the presence stream a host's <c>/sync</c> reads.</summary>
internal sealed partial class DefaultPresenceEngine
{
    public IDisposable OpenSync(UserId user, string deviceId, PresenceState? setPresence = null)
        => new SyncScope(this, user, Sync(user, deviceId, setPresence, open: true), deviceId);

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

    /// <summary>The most users one stream answer may hold.</summary>
    private const int MaxStreamLimit = 10_000;

    /// <summary>The longest a long-poll may wait.</summary>
    private static readonly TimeSpan MaxStreamWait = TimeSpan.FromHours(1);

    private readonly PresenceStream _stream;

    /// <summary>Local viewer → long-polls waiting for a change they may see (woken by the fan-out, under the lock).</summary>
    private readonly Dictionary<UserId, List<TaskCompletionSource>> _streamWaiters = [];
    private int _streamWaiterCount;

    /// <summary>Gets the stream's retained positions and indexed users, for tests of the retention bound.</summary>
    internal (int Retained, int IndexedUsers) StreamSize
    {
        get
        {
            lock (_lock)
            {
                return (_stream.Retained, _stream.IndexedUsers);
            }
        }
    }

    public async ValueTask<PresenceChanges> GetChangesSinceAsync(UserId viewer, PresenceStreamToken since, int limit = 1000, CancellationToken cancellationToken = default)
    {
        ValidateStreamRead(viewer, limit);
        lock (_lock)
        {
            ThrowIfNotRunning(); // before any membership lookup
        }

        // Membership lookups and store reads happen here, outside the lock; the answer is then read in one pass under it.
        await EnsureRoomsAsync([viewer], cancellationToken).ConfigureAwait(false);
        if (_options.IncludeOfflineUsersOnSync)
        {
            List<UserId>? toLoad = null;
            lock (_lock)
            {
                ThrowIfNotRunning();
                if (!_stream.TryDecode(since, out _, out var from) || from is not null)
                {
                    toLoad = [.. VisibleCandidatesLocked(viewer, null).Where(user => user.IsOn(_server))];
                }
            }

            if (toLoad is not null)
            {
                await EnsureLoadedAsync(toLoad, cancellationToken).ConfigureAwait(false); // offline users' last-active and status
            }
        }

        PresenceChanges answer;
        Followups followups;
        lock (_lock)
        {
            ThrowIfNotRunning();
            answer = ReadStreamLocked(viewer, since, limit, _options.IncludeOfflineUsersOnSync);
            followups = AfterChangeLocked(Now());
        }

        RunFollowups(followups);
        return answer;
    }

    public async ValueTask<PresenceChanges> WaitForChangesAsync(UserId viewer, PresenceStreamToken since, TimeSpan timeout, int limit = 1000, CancellationToken cancellationToken = default)
    {
        ValidateStreamRead(viewer, limit);
        if (timeout < TimeSpan.Zero || timeout > MaxStreamWait)
        {
            Reject("bad_timeout", "a long-poll timeout out of range");
            throw new PresenceException(PresenceErrorCodes.InvalidParam, $"A long-poll timeout must be between zero and {MaxStreamWait}; {timeout} is not.");
        }

        long start = _time.GetTimestamp();
        var token = since;
        while (true)
        {
            // Registered before the read: a change published between the read and the wait still wakes it.
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                ThrowIfNotRunning();
                if (!_streamWaiters.TryGetValue(viewer, out var list))
                {
                    list = [];
                    _streamWaiters.Add(viewer, list);
                }

                list.Add(waiter);
                _streamWaiterCount++;
            }

            try
            {
                var answer = await GetChangesSinceAsync(viewer, token, limit, cancellationToken).ConfigureAwait(false);
                var remaining = timeout - _time.GetElapsedTime(start);
                if (answer.Changes.Count > 0 || answer.IsSnapshot || answer.Limited || remaining <= TimeSpan.Zero)
                {
                    return answer;
                }

                try
                {
                    await waiter.Task.WaitAsync(remaining, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // The timeout passed with nothing the viewer may see: one last read, then the (possibly empty) answer.
                }

                lock (_lock)
                {
                    if (_state != Running)
                    {
                        return answer; // disposed while waiting: an empty answer, the same token
                    }
                }

                if (_time.GetElapsedTime(start) >= timeout)
                {
                    return await GetChangesSinceAsync(viewer, answer.NextToken, limit, cancellationToken).ConfigureAwait(false);
                }

                token = answer.NextToken; // woken: read again (a wake can be for a change filtered out on the read)
            }
            finally
            {
                RemoveWaiter(viewer, waiter);
            }
        }
    }

    private void RemoveWaiter(UserId viewer, TaskCompletionSource waiter)
    {
        lock (_lock)
        {
            if (_streamWaiters.TryGetValue(viewer, out var list) && list.Remove(waiter))
            {
                _streamWaiterCount--;
                if (list.Count == 0)
                {
                    _streamWaiters.Remove(viewer);
                }
            }
        }
    }

    /// <summary>Completes every long-poll (the engine is stopping). Lock held.</summary>
    private void CompleteStreamWaitersLocked()
    {
        foreach (var list in _streamWaiters.Values)
        {
            foreach (var waiter in list)
            {
                waiter.TrySetResult();
            }
        }

        _streamWaiters.Clear();
        _streamWaiterCount = 0;
    }

    private void ValidateStreamRead(UserId viewer, int limit)
    {
        RequireUser(viewer, nameof(viewer));
        if (!viewer.IsOn(_server))
        {
            Reject("foreign_user", "a stream read for a user of another server");
            throw new PresenceException(PresenceErrorCodes.Forbidden, $"Only local users read the presence stream; {viewer} is not a user of {_server}.");
        }

        if (limit is < 1 or > MaxStreamLimit)
        {
            Reject("bad_limit", "a stream limit out of range");
            throw new PresenceException(PresenceErrorCodes.InvalidParam, $"The limit must be between 1 and {MaxStreamLimit}; {limit} is not.");
        }
    }

    /// <summary>Whether anyone listens to <paramref name="viewer"/>'s changes: a feed or a long-poll. Lock held.</summary>
    private bool IsListeningLocked(UserId viewer) => _subscribers.ContainsKey(viewer) || _streamWaiters.ContainsKey(viewer);

    /// <summary>Wakes a viewer's feeds and long-polls for a change they may see (it is already in the stream). Lock held.</summary>
    private void NotifyLocked(UserId viewer)
    {
        if (_subscribers.TryGetValue(viewer, out var feeds))
        {
            foreach (var feed in feeds)
            {
                feed.Wake();
            }
        }

        if (_streamWaiters.Remove(viewer, out var waiters))
        {
            _streamWaiterCount -= waiters.Count;
            foreach (var waiter in waiters)
            {
                waiter.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Tells one local viewer something only they are owed — a user they lost sight of (unknown), or one they newly see —
    /// through the stream (a position for that viewer alone) and their feeds. Lock held.
    /// </summary>
    private void TellViewerLocked(UserId viewer, PresenceSnapshot snapshot)
    {
        if (!viewer.IsOn(_server))
        {
            return;
        }

        _stream.AppendFor(StreamPartitionOf(viewer), viewer, snapshot);
        NotifyLocked(viewer);
    }

    /// <summary>Runs <paramref name="action"/> under the engine's lock (feeds read the stream there).</summary>
    internal void RunLocked(Action action)
    {
        lock (_lock)
        {
            action();
        }
    }

    /// <summary>What a feed is owed since its token: every change it may see, offline users included, no limit. Lock held.</summary>
    internal PresenceChanges ReadFeedLocked(UserId viewer, PresenceStreamToken since)
        => _state == Running ? ReadStreamLocked(viewer, since, int.MaxValue, includeOffline: true) : new PresenceChanges([], since, isSnapshot: false, limited: false);

    private int StreamPartitionOf(UserId user) => _stream.PartitionOfShard(StableHash.ShardOf(StableHash.Of(user), _shards.Length));

    /// <summary>
    /// Whom the viewer may possibly see: the viewer, the co-members of their cached rooms and their presence list. The
    /// may-see rule decides among them. Lock held.
    /// </summary>
    private HashSet<UserId> VisibleCandidatesLocked(UserId viewer, HashSet<UserId>? coMembers)
    {
        coMembers ??= [];
        _rooms.TryCollectCoMembers(viewer, coMembers);
        var candidates = new HashSet<UserId>(coMembers) { viewer };
        if (_listOf.TryGetValue(viewer, out var listed))
        {
            candidates.UnionWith(listed);
        }

        return candidates;
    }

    /// <summary>
    /// Answers a stream read: what changed after the token that the viewer may see now (each user once, latest presence),
    /// then — for a token that asks for a snapshot — the rest of what the viewer may see, by user hash so that a limited
    /// snapshot can resume. Lock held.
    /// </summary>
    private PresenceChanges ReadStreamLocked(UserId viewer, PresenceStreamToken since, int limit, bool includeOffline)
    {
        bool isSnapshot = false;
        if (!_stream.TryDecode(since, out var cut, out var snapshotFrom))
        {
            isSnapshot = true;
            cut = _stream.Heads();
            snapshotFrom = 0;
        }

        var coMembers = new HashSet<UserId>();
        var candidates = VisibleCandidatesLocked(viewer, coMembers);
        bool MaySee(UserId user) => MaySeeLocked(viewer, user, coMembers.Contains(user));

        // What changed after the cut: from the smaller of the changes since and the users the viewer may see.
        var changed = new Dictionary<UserId, Changed>();
        if (_stream.CountSince(cut) <= candidates.Count)
        {
            foreach (var item in _stream.ChangesSince(cut))
            {
                // A user's changes are in one partition, oldest first: the first seen is the first queued.
                changed[item.Snapshot.User] = new Changed(item, null, changed.TryGetValue(item.Snapshot.User, out var earlier) ? earlier.FirstStamp : item.Stamp);
            }
        }
        else
        {
            foreach (var user in candidates)
            {
                if (_stream.TryLatest(StreamPartitionOf(user), user, cut[StreamPartitionOf(user)], out var item))
                {
                    changed[user] = new Changed(item, null, item.Stamp);
                }
            }
        }

        int viewerPartition = StreamPartitionOf(viewer);
        foreach (var item in _stream.TargetedSince(viewerPartition, viewer, cut[viewerPartition]))
        {
            var user = item.Snapshot.User;
            changed.TryGetValue(user, out var entry);
            if (entry.Told is null)
            {
                // Newest first: the first seen is the latest told.
                changed[user] = entry with { Told = item, FirstStamp = entry.Change is null ? item.Stamp : Math.Min(entry.FirstStamp, item.Stamp) };
            }
        }

        // Decide what each changed user shows the viewer now; order by the latest change.
        var shown = new List<(PresenceSnapshot Snapshot, StreamItem Key, long FirstStamp)>();
        foreach (var (user, entry) in changed)
        {
            var key = entry.Key;
            if (MaySee(user))
            {
                var snapshot = entry.Change?.Snapshot;
                if (entry.Told is { } told && (snapshot is null || told.Stamp > entry.Change!.Value.Stamp))
                {
                    snapshot = told.Snapshot.IsUnknown && !user.Equals(viewer) ? ReadLocked(user) : told.Snapshot;
                }

                shown.Add((snapshot!, key, entry.FirstStamp));
            }
            else if (entry.Told is { Snapshot.IsUnknown: true })
            {
                shown.Add((PresenceSnapshot.Unknown(user), key, entry.FirstStamp)); // lost sight: told once that it knows nothing more
            }
        }

        shown.Sort(static (a, b) => a.Key.Stamp.CompareTo(b.Key.Stamp));
        var next = _stream.Heads();
        bool limited = false;
        var result = new List<PresenceSnapshot>(Math.Min(shown.Count, limit));
        if (shown.Count > limit)
        {
            limited = true;
            for (int i = limit; i < shown.Count; i++)
            {
                // Resume before the first change left out, in each partition: nothing left out is lost.
                var key = shown[i].Key;
                next[key.Partition] = Math.Min(next[key.Partition], key.Position - 1);
            }

            for (int p = 0; p < next.Length; p++)
            {
                next[p] = Math.Max(next[p], cut[p]);
            }
        }

        // Who is in the answer follows the latest changes (so the next token resumes exactly); the answer lists them in the
        // order they first changed, where the read saw that.
        foreach (var (snapshot, _, _) in shown.Take(limit).OrderBy(static s => s.FirstStamp))
        {
            result.Add(snapshot);
        }

        // The snapshot part: everyone else the viewer may see now, in hash order from where the last answer stopped.
        ulong? resumeFrom = null;
        if (snapshotFrom is { } from)
        {
            var rest = new List<(uint Hash, PresenceSnapshot Snapshot)>();
            foreach (var user in candidates)
            {
                uint hash = (uint)StableHash.Of(user);
                if (hash < from || changed.ContainsKey(user) || !MaySee(user) || !TryReadLocked(user, out var snapshot) || snapshot.IsUnknown)
                {
                    continue;
                }

                if (snapshot.State == PresenceState.Offline && !includeOffline && user != viewer)
                {
                    continue;
                }

                rest.Add((hash, snapshot));
            }

            rest.Sort(static (a, b) => a.Hash.CompareTo(b.Hash));
            if (limited)
            {
                resumeFrom = from; // the changes filled the answer: the snapshot part comes next time
            }
            else
            {
                int i = 0;
                while (i < rest.Count && (result.Count < limit || (i > 0 && rest[i].Hash == rest[i - 1].Hash)))
                {
                    result.Add(rest[i].Snapshot); // users of one hash go together, so the resume point splits none
                    i++;
                }

                if (i < rest.Count)
                {
                    limited = true;
                    resumeFrom = i == 0 ? from : (ulong)rest[i - 1].Hash + 1;
                }
            }
        }

        return new PresenceChanges(result, _stream.Encode(next, resumeFrom), isSnapshot, limited);
    }

    /// <summary>A user's retained change after the token, the latest change told to the viewer alone about them, and when the first of them was queued.</summary>
    private readonly record struct Changed(StreamItem? Change, StreamItem? Told, long FirstStamp)
    {
        /// <summary>The latest of the two: where a read that leaves this user out must resume.</summary>
        public StreamItem Key => Told is { } told && (Change is not { } change || told.Stamp > change.Stamp) ? told : Change!.Value;
    }
}
