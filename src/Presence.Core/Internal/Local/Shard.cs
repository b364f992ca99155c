namespace Presence.Internal;

/// <summary>
/// One shard of the local-presence core: its users' <see cref="UserTable"/> behind one lock. Inputs for different shards
/// run in parallel. The shard never calls out while its lock is held: what the table publishes is queued here and drained
/// by the engine under its interest lock, in publication order (lock order: interest, then shard — never the reverse).
/// </summary>
internal sealed class Shard : IUserTableObserver
{
    private readonly IShardOwner _owner;
    private long _lastNow = long.MinValue;

    public Shard(int id, PresenceOptions options, TimeBase time, IShardOwner owner)
    {
        Id = id;
        _owner = owner;
        Table = new UserTable(options, this, time, loadOnDemand: true);
    }

    public int Id { get; }

    /// <summary>Guards <see cref="Table"/> and the shard's clock.</summary>
    public Lock Gate { get; } = new();

    public UserTable Table { get; }

    /// <summary>Snapshots the table published, in order, waiting for the engine to deliver them (under <see cref="Gate"/>).</summary>
    public List<PresenceSnapshot> Published { get; private set; } = [];

    /// <summary>Whether anything waits to be delivered or evicted; a racy read is fine (the next drain takes it).</summary>
    public bool HasWork => Volatile.Read(ref _pendingWork) != 0;

    private int _pendingWork;

    /// <summary>Takes what was published, leaving a fresh list (a burst does not pin its peak capacity). Gate held.</summary>
    public List<PresenceSnapshot> TakePublished()
    {
        var taken = Published;
        Published = [];
        Volatile.Write(ref _pendingWork, Evictable.Count);
        return taken;
    }

    /// <summary>Takes the users the table would forget. Gate held.</summary>
    public List<UserId> TakeEvictable()
    {
        var taken = Evictable;
        Evictable = [];
        Volatile.Write(ref _pendingWork, Published.Count);
        return taken;
    }

    /// <summary>The shard's time, never earlier than a time it already used (monotonic even if the clock steps back). Gate held.</summary>
    public long Now(TimeProvider time)
    {
        long now = time.GetTimestamp();
        if (now <= _lastNow)
        {
            return _lastNow; // no write when the clock has not moved: keeps the shard's line clean
        }

        _lastNow = now;
        return now;
    }

    void IUserTableObserver.OnPublished(int index, PresenceSnapshot snapshot)
    {
        Published.Add(snapshot);
        Volatile.Write(ref _pendingWork, 1);
    }

    void IUserTableObserver.OnDirty(int index)
    {
        Dirty.Add(Table[index].User);
        _owner.OnDirty(Table[index].User);
    }

    /// <summary>Users whose record must be saved (written under <see cref="Gate"/>; the write-behind loop takes the whole list).</summary>
    public List<UserId> Dirty { get; private set; } = [];

    /// <summary>Takes the users to save, leaving a fresh list (so a burst does not pin its peak capacity). Gate held.</summary>
    public List<UserId> TakeDirty()
    {
        var taken = Dirty;
        Dirty = [];
        return taken;
    }

    void IUserTableObserver.OnDeviceDropped(DropReason reason) => _owner.OnDeviceDropped(reason);

    bool IUserTableObserver.TryLoadNow(UserId user, out PresenceRecord? record) => _owner.TryLoadNow(user, out record);

    void IUserTableObserver.OnEvictable(UserId user)
    {
        Evictable.Add(user);
        Volatile.Write(ref _pendingWork, 1);
    }

    /// <summary>Users the table would forget, waiting for the engine to check nobody else needs them (under <see cref="Gate"/>).</summary>
    public List<UserId> Evictable { get; private set; } = [];
}

/// <summary>What a shard tells the engine; must be safe to call under the shard's lock (no locks, no host code).</summary>
internal interface IShardOwner
{
    void OnDirty(UserId user);

    void OnDeviceDropped(DropReason reason);

    /// <summary>Answers at once when the store needs no I/O; otherwise starts a background read and returns false.</summary>
    bool TryLoadNow(UserId user, out PresenceRecord? record);
}
