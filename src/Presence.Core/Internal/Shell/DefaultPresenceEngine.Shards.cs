namespace Presence.Internal;

/// <summary>The interest side's access to the shards: reads and remote updates, each under the user's shard gate. Interest lock held.</summary>
internal sealed partial class DefaultPresenceEngine
{
    /// <summary>
    /// Local users whose visibility is not the default (<see cref="PresenceVisibility.RoomMembers"/>): read under the interest
    /// lock; written there, or when a record is read (possibly under a shard gate, hence concurrent).
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<UserId, PresenceVisibility> _visibility = new();

    /// <summary>A record was read from the store: its visibility joins the interest state unless a newer choice is there.</summary>
    private void NoteVisibility(PresenceRecord? record)
    {
        if (record is not null && record.Visibility != PresenceVisibility.RoomMembers)
        {
            _visibility.TryAdd(record.User, record.Visibility);
        }
    }

    /// <summary>Who may see a user: a local user's choice; remote users are as their server sent them. Lock held.</summary>
    private PresenceVisibility VisibilityOfLocked(UserId user)
        => user.IsOn(_server) && _visibility.TryGetValue(user, out var visibility) ? visibility : PresenceVisibility.RoomMembers;

    /// <summary>Records a local user's visibility: in the interest state (for the rule) and the user's record (persisted). Lock held.</summary>
    /// <returns>The visibility before, as the user's record says (read first when the user was not in memory).</returns>
    private PresenceVisibility SetVisibilityLocked(UserId user, PresenceVisibility visibility)
    {
        // The table first: a user not in memory is read there, and the stored choice must not override this one.
        var shard = ShardOf(user);
        PresenceVisibility before;
        long next;
        lock (shard.Gate)
        {
            before = shard.Table.SetVisibility(user, visibility, shard.Now(_time));
            next = shard.Table.NextDeadline;
        }

        if (visibility == PresenceVisibility.RoomMembers)
        {
            _visibility.TryRemove(user, out _);
        }
        else
        {
            _visibility[user] = visibility;
        }

        RequestWake(next, long.MinValue);
        return before;
    }

    /// <summary>The user's presence now, applying anything due first; <see langword="false"/> when the engine holds nothing of them. Lock held.</summary>
    private bool TryReadLocked(UserId user, out PresenceSnapshot snapshot)
    {
        var shard = ShardOf(user);
        long next = UserTable.NoDeadline;
        bool found = false;
        snapshot = null!;
        lock (shard.Gate)
        {
            if (shard.Table.TryFind(user, out int index))
            {
                snapshot = shard.Table.Read(index, shard.Now(_time));
                next = shard.Table.NextDeadline;
                found = true;
            }
        }

        if (found)
        {
            RequestWake(next, long.MinValue); // a read may have applied a deadline and queued the next
            return true;
        }

        snapshot = PresenceSnapshot.Unknown(user);
        return false;
    }

    /// <summary>The user's presence now, or unknown. Lock held.</summary>
    private PresenceSnapshot ReadLocked(UserId user) => TryReadLocked(user, out var snapshot) ? snapshot : snapshot;

    /// <summary>What was last published for the user. Lock held.</summary>
    private bool TryPublishedLocked(UserId user, out PresenceSnapshot snapshot)
    {
        var shard = ShardOf(user);
        lock (shard.Gate)
        {
            if (shard.Table.TryFind(user, out int index))
            {
                snapshot = shard.Table.Published(index);
                return true;
            }
        }

        snapshot = PresenceSnapshot.Unknown(user);
        return false;
    }

    /// <summary>A publication sequence number from the user's shard, for a snapshot made outside the table. Lock held.</summary>
    private long NextSequenceLocked(UserId user)
    {
        var shard = ShardOf(user);
        lock (shard.Gate)
        {
            return shard.Table.NextSequence();
        }
    }

    /// <summary>
    /// Applies presence a peer pushed for one of its users. A user the engine does not hold yet is added only while
    /// <paramref name="mayAdd"/> (the peer's cap), and then counted in <paramref name="held"/>. Lock held.
    /// </summary>
    private RemoteApplied ApplyRemoteLocked(PresenceSnapshot pushed, long staleAfter, bool mayAdd, ref int held, long sequence)
    {
        var shard = ShardOf(pushed.User);
        long next;
        bool applied;
        lock (shard.Gate)
        {
            bool known = shard.Table.TryFind(pushed.User, out _);
            if (!known && !mayAdd)
            {
                return RemoteApplied.OverCap;
            }

            if (!known)
            {
                held++;
            }

            applied = shard.Table.ApplyRemote(pushed, shard.Now(_time), staleAfter, sequence);
            next = shard.Table.NextDeadline;
        }

        RequestWake(next, long.MinValue); // the pushed presence's expiry
        return applied ? RemoteApplied.Applied : RemoteApplied.Older;
    }

    /// <summary>What became of a pushed remote state.</summary>
    private enum RemoteApplied
    {
        Applied,
        OverCap,
        Older,
    }
}
