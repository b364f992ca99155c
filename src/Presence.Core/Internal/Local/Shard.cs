using System.Collections.Concurrent;

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

    /// <summary>Snapshots the table published, waiting for the engine to deliver them (written under <see cref="Gate"/>).</summary>
    public ConcurrentQueue<PresenceSnapshot> Published { get; } = new();

    /// <summary>The shard's time, never earlier than a time it already used (monotonic even if the clock steps back). Gate held.</summary>
    public long Now(TimeProvider time)
    {
        long now = time.GetTimestamp();
        if (now < _lastNow)
        {
            return _lastNow;
        }

        _lastNow = now;
        return now;
    }

    void IUserTableObserver.OnPublished(int index, PresenceSnapshot snapshot) => Published.Enqueue(snapshot);

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

    void IUserTableObserver.OnEvictable(UserId user) => Evictable.Enqueue(user);

    /// <summary>Users the table would forget, waiting for the engine to check nobody else needs them (written under <see cref="Gate"/>).</summary>
    public ConcurrentQueue<UserId> Evictable { get; } = new();
}

/// <summary>What a shard tells the engine; must be safe to call under the shard's lock (no locks, no host code).</summary>
internal interface IShardOwner
{
    void OnDirty(UserId user);

    void OnDeviceDropped(DropReason reason);

    /// <summary>Answers at once when the store needs no I/O; otherwise starts a background read and returns false.</summary>
    bool TryLoadNow(UserId user, out PresenceRecord? record);
}
