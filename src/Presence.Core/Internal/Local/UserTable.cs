using System.Diagnostics;

namespace Presence.Internal;

/// <summary>Why a device was dropped; the tag of <see cref="PresenceMetrics.DevicesDropped"/>.</summary>
internal enum DropReason
{
    SyncTimeout,
    BusyTimeout,
    Disconnect,
    DeviceCap,
}

/// <summary>What the table tells its owner, always while the owner's lock is held.</summary>
internal interface IUserTableObserver
{
    /// <summary>A change that matters was decided for the user at <paramref name="index"/> (the table's slot).</summary>
    void OnPublished(int index, PresenceSnapshot snapshot);

    /// <summary>The user's persisted fields changed (the first time since the last save).</summary>
    void OnDirty(int index);

    /// <summary>A device was dropped.</summary>
    void OnDeviceDropped(DropReason reason);

    /// <summary>
    /// A local user the table does not hold is being created by an input: the owner answers at once when its store can
    /// without I/O (<paramref name="record"/> null when there is none), or returns <see langword="false"/> and reads the record
    /// in the background, then calls <see cref="UserTable.MergeLoaded"/>.
    /// </summary>
    bool TryLoadNow(UserId user, out PresenceRecord? record);

    /// <summary>The user needs nothing of the table any more (no devices, nothing to save, or a remote user gone stale); the owner decides whether anyone else does.</summary>
    void OnEvictable(UserId user);
}

/// <summary>
/// The deterministic core: every user's devices, the aggregation and publication rules, and the
/// deadlines that drive timeouts. Plain synchronous code with no I/O, no clock and no lock: the caller
/// passes the time in <see cref="TimeBase"/> ticks and serializes calls.
/// </summary>
/// <remarks>
/// Deadlines are lazy. Each user has at most one live entry in a min-heap, at <see cref="UserSlot.ScheduledDue"/>,
/// which is never later than the user's true next deadline. Inputs that push a deadline later (a heartbeat,
/// an activity) touch nothing but the device; when the early entry fires, the user is re-evaluated and
/// re-queued at its true deadline. A heartbeat therefore costs one dictionary lookup and one store.
/// </remarks>
internal sealed class UserTable
{
    public const long NoTime = long.MinValue;
    public const long NoDeadline = long.MaxValue;

    /// <summary>Every defined device kind: a peer's undefined bits are masked off.</summary>
    private const DeviceKinds AllKinds = DeviceKinds.Standard | DeviceKinds.Mobile | DeviceKinds.Web | DeviceKinds.Limited;

    /// <summary>User → slot; see <see cref="OpenIndex"/>.</summary>
    private OpenIndex _index;
    private PriorityQueue<int, long> _deadlines = new();
    private readonly IUserTableObserver _observer;
    private readonly TimeBase _time;
    private readonly long _idleTicks;
    private readonly long _syncTicks;
    private readonly long _busyTicks;
    private readonly long _granularityTicks;
    private readonly int _maxDevices;
    private readonly long _evictTicks;

    /// <summary>Whether the table belongs to an engine that reads local users from a store and evicts idle users, or is bare (tests, benchmarks).</summary>
    private readonly bool _loadOnDemand;
    private readonly bool _busyEnabled;
    private readonly Stack<int> _free = new();
    private UserSlot[] _slots;

    /// <summary>Slots handed out so far (live or free); live users are <see cref="Count"/>.</summary>
    private int _high;
    private int _count;
    private long _sequence;

    public UserTable(PresenceOptions options, IUserTableObserver observer, TimeBase time, int initialCapacity = 16, bool loadOnDemand = false)
    {
        _loadOnDemand = loadOnDemand;
        _busyEnabled = options.EnableBusy;
        _observer = observer;
        _time = time;
        _idleTicks = time.ToTicks(options.IdleTimeout);
        _syncTicks = time.ToTicks(options.SyncTimeout);
        _busyTicks = time.ToTicks(options.BusyTimeout);
        _granularityTicks = time.ToTicks(options.LastActiveGranularity);
        _maxDevices = options.MaxDevicesPerUser;
        _evictTicks = time.ToTicks(options.EvictAfter);
        _slots = new UserSlot[Math.Max(initialCapacity, 4)];
        _index = new OpenIndex(initialCapacity);
    }

    public int Count => _count;

    public int ConnectedDevices { get; private set; }

    public long Heartbeats { get; private set; }

    /// <summary>Gets the earliest queued deadline (possibly stale), or <see cref="NoDeadline"/>.</summary>
    public long NextDeadline => _deadlines.TryPeek(out _, out long due) ? due : NoDeadline;

    public ref UserSlot this[int index] => ref _slots[index];

    public bool TryFind(UserId user, out int index) => TryFind(user, StableHash.Of(user), out index);

    /// <summary>Finds a user by its <see cref="StableHash"/> (computed once by the caller, who also picked the shard with it).</summary>
    public bool TryFind(UserId user, int hash, out int index) => _index.TryFind(user, hash, new SlotKeys(_slots), out index);

    /// <summary>
    /// Restores a user from the store, before any input. A last-active time in the future is clamped to
    /// <paramref name="now"/>, and a stored busy state becomes online when busy is disabled.
    /// </summary>
    public void Load(PresenceRecord record, long now, bool busyEnabled)
    {
        int index = GetOrAdd(record.User, loadOnDemand: false, now);
        ApplyRecord(ref _slots[index], record, now, busyEnabled);
        ScheduleQuiet(index, now); // read back for a read or a poll: it leaves memory again if nobody needs it
    }

    /// <summary>A stored record becomes the user's state: nothing is published for it (it reads as offline until something changes).</summary>
    private void ApplyRecord(ref UserSlot u, PresenceRecord record, long now, bool busyEnabled)
    {
        u.Requested = record.RequestedState == PresenceState.Busy && !busyEnabled ? PresenceState.Online : record.RequestedState;
        u.StatusMessage = record.StatusMessage;
        u.Visibility = record.Visibility;
        u.LastActive = record.LastActive is { } at ? Math.Min(_time.FromWall(at), now) : NoTime;
        u.SavedLastActive = u.LastActive;
        u.PublishedState = PresenceState.Offline;
        u.PublishedLastActive = u.LastActive;
        u.PublishedKinds = DeviceKinds.None;
        u.PublishedActive = false;
    }

    /// <summary>Records a sync; returns <see langword="false"/> when nothing but the sync time moved (no deadline earlier, nothing published).</summary>
    public bool Heartbeat(UserId user, string deviceId, PresenceState? setPresence, long now)
        => Heartbeat(user, StableHash.Of(user), deviceId, setPresence, now);

    /// <summary>Records a sync for a user whose <see cref="StableHash"/> the caller already has.</summary>
    public bool Heartbeat(UserId user, int hash, string deviceId, PresenceState? setPresence, long now)
    {
        Heartbeats++;
        if (TryFind(user, hash, out int index))
        {
            ref UserSlot u = ref _slots[index];
            if (u.ScheduledDue > now)
            {
                int di = FindDevice(ref u, deviceId);
                if (di >= 0)
                {
                    ref DeviceSlot d = ref Device(ref u, di);
                    if (setPresence is null || setPresence.GetValueOrDefault() == d.Requested || d.Requested == PresenceState.Busy)
                    {
                        // The overwhelmingly common input: nothing changes, nothing is published.
                        d.LastSync = now;
                        return false;
                    }
                }
            }
        }

        index = Prepare(user, now);
        ref UserSlot slot = ref _slots[index];
        int device = FindDevice(ref slot, deviceId);
        if (device < 0)
        {
            // A sync's set_presence never replaces busy (Synapse's rule): a user who asked for busy stays busy on a new device.
            device = AddDevice(index, deviceId, slot.Requested == PresenceState.Busy ? null : setPresence, now);
        }
        else
        {
            ref DeviceSlot d = ref Device(ref slot, device);
            d.LastSync = now;
            if (setPresence is { } requested && requested != d.Requested && d.Requested != PresenceState.Busy)
            {
                Request(index, ref d, requested, now, explicitSet: false);
            }
        }

        Evaluate(index, now, force: false);
        return true;
    }

    public void Activity(UserId user, string deviceId, long now)
    {
        int index = Prepare(user, now);
        ref DeviceSlot d = ref FindOrAddDevice(index, deviceId, now);
        d.LastActivity = now;
        d.Idle = false;
        if (d.Requested == PresenceState.Unavailable)
        {
            Request(index, ref d, PresenceState.Online, now, explicitSet: false);
        }

        Evaluate(index, now, force: false);
    }

    public void Idle(UserId user, string deviceId, long idleFor, long now)
    {
        int index = Prepare(user, now);
        ref DeviceSlot d = ref FindOrAddDevice(index, deviceId, now);
        d.Idle = true;

        // Idleness began idleFor ago, but never after the last activity this engine saw: a repeated or
        // understated report must not make an idle user look recently active.
        long idleSince = now - idleFor;
        if (d.LastActivity == NoTime || idleSince < d.LastActivity)
        {
            d.LastActivity = idleSince;
        }
        Evaluate(index, now, force: false);
    }

    public void SetKind(UserId user, string deviceId, DeviceKinds kind, long now)
    {
        int index = Prepare(user, now);
        ref DeviceSlot d = ref FindOrAddDevice(index, deviceId, now);
        d.Kind = kind;
        Evaluate(index, now, force: false);
    }

    public void Disconnect(UserId user, string deviceId, long now)
    {
        if (!TryFind(user, out _))
        {
            return;
        }

        int index = Prepare(user, now);
        ref UserSlot u = ref _slots[index];
        int device = FindDevice(ref u, deviceId);
        if (device >= 0)
        {
            RemoveDevice(ref u, device, DropReason.Disconnect);
        }

        Evaluate(index, now, force: false); // publishes a drop Prepare just applied, too
    }

    public void SetPresence(UserId user, string deviceId, PresenceState state, string? statusMessage, long now)
    {
        int index = Prepare(user, now);
        ref DeviceSlot d = ref FindOrAddDevice(index, deviceId, now, state);
        Request(index, ref d, state, now, explicitSet: true);
        ref UserSlot u = ref _slots[index];
        if (u.Loading)
        {
            u.SetWhileLoading = true;
        }

        bool statusChanged = !string.Equals(u.StatusMessage, statusMessage, StringComparison.Ordinal);
        if (statusChanged)
        {
            u.StatusMessage = statusMessage;
            MarkDirty(index);
        }

        Evaluate(index, now, force: statusChanged);
    }

    /// <summary>Applies every deadline due at <paramref name="now"/>, in order.</summary>
    public void Expire(long now)
    {
        while (_deadlines.TryPeek(out int index, out long due) && due <= now)
        {
            _deadlines.Dequeue();
            ref UserSlot u = ref _slots[index];
            if (u.ScheduledDue != due)
            {
                continue; // superseded by an earlier entry that already ran
            }

            u.ScheduledDue = NoDeadline;
            Evaluate(index, now, force: false);
        }
    }

    /// <summary>
    /// Records presence a server pushed for one of its users, publishing it when it differs from what is held.
    /// <paramref name="staleAfter"/> (ticks, or <see cref="NoDeadline"/>) makes it unknown when no update follows.
    /// </summary>
    /// <returns><see langword="false"/> when <paramref name="sequence"/> says the push is older than one already applied (it is ignored).</returns>
    public bool ApplyRemote(PresenceSnapshot pushed, long now, long staleAfter, long sequence = 0)
    {
        int index = GetOrAdd(pushed.User, loadOnDemand: false, now);
        ref UserSlot u = ref _slots[index];
        u.Remote = true;
        if (sequence != 0)
        {
            if (sequence < u.RemoteSequence)
            {
                return false; // a late delivery of an older message: never over a newer state
            }

            u.RemoteSequence = sequence;
        }

        // A peer's clock or a hostile value: never in the future, never further back than a year (no overflow).
        long lastActive = NoTime;
        if (pushed.LastActive is { } at)
        {
            var wallNow = _time.ToWall(now);
            var clamped = at > wallNow ? wallNow : at < wallNow.AddDays(-365) ? wallNow.AddDays(-365) : at;
            lastActive = _time.FromWall(clamped);
        }

        // currently_active is derived from last-active (what peers of this protocol expect): stated active, but last active
        // longer ago than the granularity, is not active; an active user turns inactive by itself when the granularity passes.
        bool active = pushed.CurrentlyActive && (lastActive == NoTime || now - lastActive < _granularityTicks);
        bool changed = pushed.State != u.PublishedState
            || active != u.PublishedActive
            || (pushed.DeviceKinds & AllKinds) != u.PublishedKinds
            || !string.Equals(pushed.StatusMessage, u.StatusMessage, StringComparison.Ordinal)
            || (!pushed.CurrentlyActive && Jumped(lastActive, u.PublishedLastActive));
        u.PublishedState = pushed.State;
        u.PublishedActive = active;
        u.PublishedKinds = pushed.DeviceKinds & AllKinds;
        u.PublishedLastActive = lastActive;
        u.StatusMessage = pushed.StatusMessage;
        u.SavedLastActive = staleAfter == NoDeadline ? NoDeadline : now + staleAfter; // the remote expiry
        if (staleAfter != NoDeadline)
        {
            Schedule(index, now + staleAfter);
        }

        if (active && lastActive != NoTime)
        {
            Schedule(index, lastActive + _granularityTicks);
        }

        if (changed)
        {
            _observer.OnPublished(index, Published(index));
        }

        return true;
    }

    private void MakeUnknown(int index)
    {
        ref UserSlot u = ref _slots[index];
        u.PublishedState = PresenceState.Unknown;
        u.PublishedActive = false;
        u.PublishedKinds = DeviceKinds.None;
        u.PublishedLastActive = NoTime;
        u.StatusMessage = null;
        u.SavedLastActive = NoDeadline;
        _observer.OnPublished(index, Published(index));
    }

    /// <summary>The user's presence as of <paramref name="now"/>, applying anything due first.</summary>
    public PresenceSnapshot Read(int index, long now)
    {
        ref UserSlot u = ref _slots[index];
        if (u.ScheduledDue <= now)
        {
            Evaluate(index, now, force: false);
        }

        if (u.Remote)
        {
            return Published(index);
        }

        var aggregate = Aggregate(ref u, now, out _);
        return ToSnapshot(ref u, aggregate.State, aggregate.LastActive, aggregate.Active, aggregate.Kinds);
    }

    /// <summary>What was last published for the user.</summary>
    public PresenceSnapshot Published(int index)
    {
        ref UserSlot u = ref _slots[index];
        return ToSnapshot(ref u, u.PublishedState, u.PublishedLastActive, u.PublishedActive, u.PublishedKinds);
    }

    /// <summary>The record to persist for the user; clears its dirty mark.</summary>
    public PresenceRecord TakeRecord(int index, long now)
    {
        ref UserSlot u = ref _slots[index];
        u.Dirty = false;
        u.Saving = true;
        long lastActive = Aggregate(ref u, now, out _).LastActive;
        u.SavedLastActive = lastActive;
        if (u.DeviceCount == 0 && u.QuietSince != NoTime && _loadOnDemand)
        {
            Schedule(index, Math.Max(now + 1, u.QuietSince + _evictTicks)); // saved: it may now leave memory in time
        }

        return new PresenceRecord(u.User, u.Requested, u.StatusMessage, ToWall(lastActive), u.Visibility);
    }

    /// <summary>Marks every user whose last-active time moved since it was saved (at shutdown).</summary>
    public void MarkUnsavedLastActive(long now)
    {
        for (int i = 0; i < _high; i++)
        {
            ref UserSlot u = ref _slots[i];
            if (!u.User.IsEmpty && u.DeviceCount > 0 && Aggregate(ref u, now, out _).LastActive != u.SavedLastActive)
            {
                MarkDirty(i);
            }
        }
    }

    /// <summary>Sets who may see a local user; persisted.</summary>
    /// <returns>The visibility before (the stored one when the user was just read).</returns>
    public PresenceVisibility SetVisibility(UserId user, PresenceVisibility visibility, long now)
    {
        int index = GetOrAdd(user, loadOnDemand: true, now);
        ref UserSlot u = ref _slots[index];
        var before = u.Visibility;
        if (u.Loading)
        {
            u.VisibilityWhileLoading = true;
        }

        if (u.Visibility != visibility)
        {
            u.Visibility = visibility;
            MarkDirty(index);
        }

        ScheduleQuiet(index, now);
        return before;
    }

    /// <summary>A user without devices held for another reason (read back, a visibility set) is asked about eviction in time.</summary>
    private void ScheduleQuiet(int index, long now)
    {
        ref UserSlot u = ref _slots[index];
        if (u.DeviceCount == 0 && !u.Remote && _loadOnDemand)
        {
            if (u.QuietSince == NoTime)
            {
                u.QuietSince = now;
            }

            Schedule(index, Math.Max(now + 1, u.QuietSince + _evictTicks));
        }
    }

    /// <summary>Who may see a user: the default for users the table does not hold.</summary>
    public PresenceVisibility VisibilityOf(UserId user) => TryFind(user, out int index) ? _slots[index].Visibility : PresenceVisibility.RoomMembers;

    /// <summary>
    /// Collects the local users held whose last published state is not offline (nor unknown): the users a peer may need
    /// reminding of. Allocates only the list it fills.
    /// </summary>
    public void CollectShowing(List<UserId> into)
    {
        for (int i = 0; i < _high; i++)
        {
            ref UserSlot u = ref _slots[i];
            if (!u.User.IsEmpty && !u.Remote && u.PublishedState is not (PresenceState.Offline or PresenceState.Unknown))
            {
                into.Add(u.User);
            }
        }
    }

    /// <summary>A publication sequence number for a snapshot made outside the table.</summary>
    public long NextSequence() => ++_sequence;

    public void MarkDirty(int index)
    {
        ref UserSlot u = ref _slots[index];
        if (!u.Dirty)
        {
            u.Dirty = true;
            _observer.OnDirty(index);
        }
    }

    /// <summary>
    /// Finds or creates a user. A local user created by an input (<paramref name="loadOnDemand"/>) is marked loading and the
    /// owner is asked to read their record: until it is merged nothing is published for them and nothing saved.
    /// </summary>
    private int GetOrAdd(UserId user, bool loadOnDemand, long now)
    {
        int hash = StableHash.Of(user);
        if (TryFind(user, hash, out int index))
        {
            return index;
        }

        loadOnDemand &= _loadOnDemand;

        if (!_free.TryPop(out index))
        {
            if (_high == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
            }

            index = _high++;
        }

        _count++;
        _slots[index] = new UserSlot
        {
            User = user,
            LastActive = NoTime,
            PublishedLastActive = NoTime,
            SavedLastActive = NoTime,
            ScheduledDue = NoDeadline,
            Requested = PresenceState.Online,
            PublishedState = PresenceState.Unknown,
            Loading = loadOnDemand,
        };
        _slots[index].QuietSince = NoTime;
        _index.Add(hash, index);
        if (loadOnDemand)
        {
            if (_observer.TryLoadNow(user, out var record))
            {
                _slots[index].Loading = false;
                if (record is not null)
                {
                    ApplyRecord(ref _slots[index], record, now, _busyEnabled);
                }
            }
        }

        return index;
    }

    /// <summary>
    /// Merges a local user's stored record (or its absence) into what inputs did while it was being read: the stored
    /// requested state and status apply unless the user set their presence meanwhile; last-active is the later of the two.
    /// Then the user is evaluated and published as usual.
    /// </summary>
    /// <returns>Whether the stored visibility was adopted (not when the user chose one while the record was read).</returns>
    public bool MergeLoaded(UserId user, PresenceRecord? record, long now, bool busyEnabled)
    {
        if (!TryFind(user, out int index) || !_slots[index].Loading)
        {
            return false;
        }

        bool visibilityAdopted = false;

        ref UserSlot u = ref _slots[index];
        u.Loading = false;
        if (record is not null)
        {
            if (!u.SetWhileLoading)
            {
                u.Requested = record.RequestedState == PresenceState.Busy && !busyEnabled ? PresenceState.Online : record.RequestedState;
                u.StatusMessage = record.StatusMessage;
                for (int i = 0; i < u.DeviceCount; i++)
                {
                    Device(ref u, i).Requested = u.Requested; // devices that connected meanwhile start in the stored state
                }
            }

            if (!u.VisibilityWhileLoading)
            {
                u.Visibility = record.Visibility;
                visibilityAdopted = true;
            }

            long stored = record.LastActive is { } at ? Math.Min(_time.FromWall(at), now) : NoTime;
            if (stored > u.LastActive)
            {
                u.LastActive = stored;
            }

            u.SavedLastActive = stored;
        }

        u.SetWhileLoading = false;
        u.VisibilityWhileLoading = false;
        if (u.Dirty)
        {
            _observer.OnDirty(index); // what changed meanwhile is saved now that the record is whole
        }

        Evaluate(index, now, force: false);
        return visibilityAdopted;
    }

    /// <summary>The write of the user's record ended (saved, or failed and marked dirty again): they may leave memory again.</summary>
    public void SaveEnded(UserId user, long now)
    {
        if (TryFind(user, out int index))
        {
            ref UserSlot u = ref _slots[index];
            u.Saving = false;
            if (u.DeviceCount == 0 && u.QuietSince != NoTime && _loadOnDemand)
            {
                Schedule(index, Math.Max(now + 1, u.QuietSince + _evictTicks));
            }
        }
    }

    /// <summary>Gets whether the user is held and their record is whole (not loading).</summary>
    public bool IsLoaded(UserId user) => TryFind(user, out int index) && !_slots[index].Loading;

    /// <summary>
    /// Forgets a user the owner found nobody needs, if the table still agrees: a local user with no devices, nothing to save
    /// and quiet for the eviction time, or a remote user whose presence went stale. Returns whether it was removed.
    /// </summary>
    public bool TryEvict(UserId user, long now, out bool remote)
    {
        remote = false;
        int hash = StableHash.Of(user);
        if (!TryFind(user, hash, out int index) || !IsEvictable(ref _slots[index], now))
        {
            return false;
        }

        remote = _slots[index].Remote;
        _index.Remove(hash, index);
        _slots[index] = default;
        _free.Push(index);
        _count--;
        CompactIfSparse();
        return true;
    }

    /// <summary>
    /// After many users left: when under a quarter of the slots are live, moves them into right-sized arrays and rebuilds
    /// the index and the deadline heap, so memory follows the users held now, not the peak. Indexes change; none is held
    /// across calls.
    /// </summary>
    private void CompactIfSparse()
    {
        if (_slots.Length <= 64 || _count * 4 > _slots.Length)
        {
            return;
        }

        var slots = new UserSlot[Math.Max(16, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, _count * 2)))];
        var index = new OpenIndex(_count);
        var deadlines = new PriorityQueue<int, long>(_count);
        int live = 0;
        for (int i = 0; i < _high; i++)
        {
            ref UserSlot u = ref _slots[i];
            if (u.User.IsEmpty)
            {
                continue;
            }

            slots[live] = u;
            index.Add(StableHash.Of(u.User), live);
            if (u.ScheduledDue != NoDeadline)
            {
                deadlines.Enqueue(live, u.ScheduledDue);
            }

            live++;
        }

        Debug.Assert(live == _count, "Every live user is moved.");
        _slots = slots;
        _index = index;
        _deadlines = deadlines;
        _high = live;
        _free.Clear();
        _free.TrimExcess();
    }

    private bool IsEvictable(ref UserSlot u, long now)
    {
        if (u.Remote)
        {
            return u.PublishedState == PresenceState.Unknown;
        }

        return u.DeviceCount == 0 && !u.Dirty && !u.Saving && !u.Loading && u.QuietSince != NoTime && now - u.QuietSince >= _evictTicks;
    }

    /// <summary>Finds or creates the user and drops devices whose time is up, so an input never revives a device that timed out.</summary>
    private int Prepare(UserId user, long now)
    {
        int index = GetOrAdd(user, loadOnDemand: true, now);
        ref UserSlot u = ref _slots[index];
        if (u.ScheduledDue <= now)
        {
            DropExpired(ref u, now);
        }

        return index;
    }

    private ref DeviceSlot FindOrAddDevice(int index, string deviceId, long now, PresenceState? requested = null)
    {
        ref UserSlot u = ref _slots[index];
        int device = FindDevice(ref u, deviceId);
        if (device < 0)
        {
            device = AddDevice(index, deviceId, requested, now);
        }

        return ref Device(ref _slots[index], device);
    }

    private static int FindDevice(ref UserSlot u, string deviceId)
    {
        int count = u.DeviceCount;
        if (count == 0)
        {
            return -1;
        }

        if (ReferenceEquals(u.Device0.Id, deviceId) || string.Equals(u.Device0.Id, deviceId, StringComparison.Ordinal))
        {
            return 0;
        }

        var more = u.MoreDevices;
        for (int i = 1; i < count; i++)
        {
            if (string.Equals(more![i - 1].Id, deviceId, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private static ref DeviceSlot Device(ref UserSlot u, int i)
    {
        if (i == 0)
        {
            return ref u.Device0;
        }

        return ref u.MoreDevices![i - 1];
    }

    private int AddDevice(int index, string deviceId, PresenceState? requested, long now)
    {
        ref UserSlot u = ref _slots[index];
        if (u.DeviceCount >= _maxDevices)
        {
            RemoveDevice(ref u, LeastRecentlySeen(ref u), DropReason.DeviceCap);
        }

        var state = requested ?? u.Requested;
        if (requested is { } explicitState && explicitState != u.Requested)
        {
            u.Requested = explicitState;
            MarkDirty(index);
        }

        var device = new DeviceSlot
        {
            Id = deviceId,
            LastSync = now,
            LastActivity = state is PresenceState.Online or PresenceState.Busy ? now : NoTime,
            Requested = state,
            Kind = DeviceKinds.Standard,
        };

        int position = u.DeviceCount;
        if (position == 0)
        {
            u.Device0 = device;
        }
        else
        {
            u.MoreDevices ??= new DeviceSlot[2];
            if (position - 1 == u.MoreDevices.Length)
            {
                Array.Resize(ref u.MoreDevices, u.MoreDevices.Length * 2);
            }

            u.MoreDevices[position - 1] = device;
        }

        u.DeviceCount++;
        ConnectedDevices++;
        return position;
    }

    private static int LeastRecentlySeen(ref UserSlot u)
    {
        int oldest = 0;
        long oldestSeen = long.MaxValue;
        for (int i = 0; i < u.DeviceCount; i++)
        {
            ref DeviceSlot d = ref Device(ref u, i);
            long seen = Math.Max(d.LastSync, d.LastActivity);
            if (seen < oldestSeen)
            {
                oldestSeen = seen;
                oldest = i;
            }
        }

        return oldest;
    }

    private void RemoveDevice(ref UserSlot u, int i, DropReason reason)
    {
        ref DeviceSlot gone = ref Device(ref u, i);
        if (gone.LastActivity > u.LastActive)
        {
            u.LastActive = gone.LastActivity;
        }

        int last = u.DeviceCount - 1;
        if (i != last)
        {
            gone = Device(ref u, last);
        }

        Device(ref u, last) = default;
        u.DeviceCount--;
        if (u.DeviceCount == 0)
        {
            u.QuietSince = NoTime; // set to the time of the next evaluation
        }
        if (u.DeviceCount <= 1)
        {
            u.MoreDevices = null;
        }

        ConnectedDevices--;
        _observer.OnDeviceDropped(reason);
    }

    private void DropExpired(ref UserSlot u, long now)
    {
        for (int i = u.DeviceCount - 1; i >= 0; i--)
        {
            ref DeviceSlot d = ref Device(ref u, i);
            bool busy = d.Requested == PresenceState.Busy;
            long seen = Math.Max(d.LastSync, d.LastActivity);
            if (now - seen >= (busy ? _busyTicks : _syncTicks))
            {
                RemoveDevice(ref u, i, busy ? DropReason.BusyTimeout : DropReason.SyncTimeout);
            }
        }
    }

    /// <summary>A device's state changes; online and busy count as activity, the others keep the old last-active time.</summary>
    private void Request(int index, ref DeviceSlot d, PresenceState state, long now, bool explicitSet)
    {
        bool wasActiveState = d.Requested is PresenceState.Online or PresenceState.Busy;
        d.Requested = state;
        if (state is PresenceState.Online or PresenceState.Busy && (explicitSet || !wasActiveState))
        {
            d.LastActivity = now;
            d.Idle = false;
        }

        ref UserSlot u = ref _slots[index];
        if (u.Requested != state)
        {
            u.Requested = state;
            MarkDirty(index);
        }
    }

    private readonly record struct Aggregated(PresenceState State, long LastActive, bool Active, DeviceKinds Kinds);

    private Aggregated Aggregate(ref UserSlot u, long now, out long next)
    {
        next = NoDeadline;
        var state = PresenceState.Offline;
        long lastActive = u.LastActive;
        var kinds = DeviceKinds.None;
        for (int i = 0; i < u.DeviceCount; i++)
        {
            ref DeviceSlot d = ref Device(ref u, i);
            var effective = d.Requested;
            if (effective == PresenceState.Online)
            {
                if (d.Idle || d.LastActivity == NoTime || now - d.LastActivity >= _idleTicks)
                {
                    effective = PresenceState.Unavailable;
                }
                else
                {
                    next = Math.Min(next, d.LastActivity + _idleTicks);
                }
            }

            if (effective > state)
            {
                state = effective;
            }

            if (d.LastActivity > lastActive)
            {
                lastActive = d.LastActivity;
            }

            kinds |= d.Kind;
            long seen = Math.Max(d.LastSync, d.LastActivity);
            next = Math.Min(next, seen + (d.Requested == PresenceState.Busy ? _busyTicks : _syncTicks));
        }

        bool active = state == PresenceState.Online && lastActive != NoTime && now - lastActive < _granularityTicks;
        if (active)
        {
            next = Math.Min(next, lastActive + _granularityTicks);
        }

        return new Aggregated(state, lastActive, active, kinds);
    }

    private void Evaluate(int index, long now, bool force)
    {
        ref UserSlot u = ref _slots[index];
        if (u.Remote)
        {
            if (u.RemoteExpiry <= now && u.PublishedState != PresenceState.Unknown)
            {
                MakeUnknown(index);
            }
            else if (u.PublishedActive && u.PublishedLastActive != NoTime && now - u.PublishedLastActive >= _granularityTicks)
            {
                u.PublishedActive = false; // derived, as the peer expects us to
                _observer.OnPublished(index, ToSnapshot(ref u, u.PublishedState, u.PublishedLastActive, false, u.PublishedKinds, PresenceUrgency.Derivable));
            }

            if (u.RemoteExpiry != NoDeadline && u.RemoteExpiry > now)
            {
                Schedule(index, u.RemoteExpiry);
            }

            if (u.PublishedState == PresenceState.Unknown && _loadOnDemand)
            {
                _observer.OnEvictable(u.User); // expired: nothing of it is worth holding
                Schedule(index, now + _evictTicks); // asked again later if someone still needed it
            }

            return;
        }

        DropExpired(ref u, now);
        var a = Aggregate(ref u, now, out long next);

        // The one place a change's urgency is decided: state, status and device kinds are prompt; last-active movement is
        // lazy; currently_active falling back as time passes is derivable (peers of this protocol work it out themselves).
        bool publish = force || a.State != u.PublishedState || a.Kinds != u.PublishedKinds;
        var urgency = PresenceUrgency.Prompt;
        if (!publish)
        {
            bool jumped = Jumped(a.LastActive, u.PublishedLastActive);
            publish = a.State == PresenceState.Online
                ? a.Active != u.PublishedActive || (!a.Active && jumped)
                : jumped;
            urgency = a.State == PresenceState.Online && !a.Active && u.PublishedActive && !jumped ? PresenceUrgency.Derivable : PresenceUrgency.Lazy;
        }

        // Deadlines first: the table is consistent before anyone is told anything.
        if (next != NoDeadline)
        {
            Debug.Assert(next > now, "A deadline computed at 'now' lies in the future.");
            Schedule(index, Math.Max(next, now + 1));
        }

        // Last-active is saved when published, and at least once per granularity while it keeps moving.
        if (a.LastActive != u.SavedLastActive && (publish || Jumped(a.LastActive, u.SavedLastActive)))
        {
            MarkDirty(index);
        }

        if (u.DeviceCount == 0 && !u.Loading && _loadOnDemand)
        {
            if (u.QuietSince == NoTime)
            {
                u.QuietSince = now;
            }

            long evictAt = u.QuietSince + _evictTicks;
            if (evictAt <= now && !u.Dirty)
            {
                _observer.OnEvictable(u.User);
                evictAt = now + _evictTicks; // asked again later if someone still needed it
            }

            Schedule(index, Math.Max(evictAt, now + 1));
        }

        if (publish && !u.Loading)
        {
            u.PublishedState = a.State;
            u.PublishedLastActive = a.LastActive;
            u.PublishedActive = a.Active;
            u.PublishedKinds = a.Kinds;
            _observer.OnPublished(index, ToSnapshot(ref u, a.State, a.LastActive, a.Active, a.Kinds, urgency));
        }
    }

    private bool Jumped(long lastActive, long published)
    {
        if (lastActive == published)
        {
            return false;
        }

        if (lastActive == NoTime || published == NoTime)
        {
            return true;
        }

        return Math.Abs(lastActive - published) > _granularityTicks;
    }

    private void Schedule(int index, long due)
    {
        ref UserSlot u = ref _slots[index];
        if (due < u.ScheduledDue)
        {
            u.ScheduledDue = due;
            _deadlines.Enqueue(index, due);
        }
    }

    private PresenceSnapshot ToSnapshot(ref UserSlot u, PresenceState state, long lastActive, bool active, DeviceKinds kinds, PresenceUrgency urgency = PresenceUrgency.Prompt)
        => new(u.User, state, u.StatusMessage, ToWall(lastActive), active, kinds) { Sequence = ++_sequence, Urgency = urgency };

    private DateTimeOffset? ToWall(long ticks) => ticks == NoTime ? null : _time.ToWall(ticks);

    private readonly struct SlotKeys(UserSlot[] slots) : IIndexKeys<UserId>
    {
        public bool Matches(int slot, UserId key) => slots[slot].User == key;
    }
}
