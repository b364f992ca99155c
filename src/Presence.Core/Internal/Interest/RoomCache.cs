namespace Presence.Internal;

/// <summary>
/// The engine's copy of the host's rooms, in the host's own shapes: the members of a room and the rooms of a user. Memory is
/// linear in the memberships cached (each membership is held once per side that is cached), bounded by a capacity counted
/// in memberships with the oldest entries evicted first. Excluded rooms are never cached and share nothing. Each room also
/// counts its members per server, so "which servers share a room with this user" needs no walk over members.
/// Deterministic and not thread-safe: the engine calls it under its interest lock.
/// </summary>
internal sealed class RoomCache
{
    private readonly Dictionary<string, RoomEntry> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<UserId, UserEntry> _users = [];
    private readonly Queue<(string? Room, UserId User, long Stamp)> _order = new();
    private readonly HashSet<string> _excluded;
    private readonly Dictionary<string, ServerName> _servers = new(StringComparer.Ordinal);
    private readonly ServerName _local;
    private readonly long _capacity;
    /// <summary>Rooms being looked up: how many lookups, and the change counter of the last change meanwhile (0: none).</summary>
    private readonly Dictionary<string, (int Lookups, long LastChange)> _roomsInFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<UserId, (int Lookups, long LastChange)> _usersInFlight = [];
    private long _changes;
    private long _size;
    private long _stamp;

    public RoomCache(ServerName local, long capacity, IEnumerable<string> excluded)
    {
        _local = local;
        _capacity = capacity;
        _excluded = new HashSet<string>(excluded, StringComparer.Ordinal);
    }

    /// <summary>
    /// Gets the cache's size as counted against its capacity: one per cached room and per cached user, plus one per
    /// membership held (room members plus users' rooms).
    /// </summary>
    public long Size => _size;

    public int CachedRooms => _rooms.Count;

    public int CachedUsers => _users.Count;

    public bool IsExcluded(string room) => _excluded.Contains(room);

    /// <summary>Gets a user's cached rooms, sorted ordinally.</summary>
    public bool TryGetRooms(UserId user, out string[] rooms)
    {
        if (_users.TryGetValue(user, out var entry))
        {
            rooms = entry.Rooms;
            return true;
        }

        rooms = [];
        return false;
    }

    public bool TryGetMembers(string room, out HashSet<UserId> members)
    {
        if (_rooms.TryGetValue(room, out var entry))
        {
            members = entry.Members;
            return true;
        }

        members = null!;
        return false;
    }

    /// <summary>Whether every room of <paramref name="user"/> and the user's room list are cached; else what to fetch.</summary>
    public bool IsComplete(UserId user, List<string>? missingRooms)
    {
        if (!_users.TryGetValue(user, out var entry))
        {
            return false;
        }

        bool complete = true;
        foreach (var room in entry.Rooms)
        {
            if (!_rooms.ContainsKey(room))
            {
                complete = false;
                missingRooms?.Add(room);
            }
        }

        return complete;
    }

    /// <summary>
    /// Do <paramref name="a"/> and <paramref name="b"/> share a (non-excluded) room? <see langword="null"/> when the cache
    /// cannot tell: neither user's rooms are cached, or only one's are and not all of those rooms' members.
    /// </summary>
    public bool? SharesRoom(UserId a, UserId b)
    {
        bool hasA = _users.TryGetValue(a, out var ofA);
        bool hasB = _users.TryGetValue(b, out var ofB);
        if (hasA && hasB)
        {
            // Both sorted: one merge walk.
            string[] x = ofA!.Rooms, y = ofB!.Rooms;
            for (int i = 0, j = 0; i < x.Length && j < y.Length;)
            {
                int order = string.CompareOrdinal(x[i], y[j]);
                if (order == 0)
                {
                    return true;
                }

                if (order < 0)
                {
                    i++;
                }
                else
                {
                    j++;
                }
            }

            return false;
        }

        if (!hasA && !hasB)
        {
            return null;
        }

        var (known, other) = hasA ? (ofA!, b) : (ofB!, a);
        foreach (var room in known.Rooms)
        {
            if (!_rooms.TryGetValue(room, out var entry))
            {
                return null;
            }

            if (entry.Members.Contains(other))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Does some user of <paramref name="server"/> share a room with <paramref name="user"/>? <see langword="null"/> when not cached.</summary>
    public bool? ServerSharesRoom(UserId user, ServerName server)
    {
        if (!_users.TryGetValue(user, out var entry))
        {
            return null;
        }

        bool? result = false;
        foreach (var room in entry.Rooms)
        {
            if (!_rooms.TryGetValue(room, out var members))
            {
                result = null;
            }
            else if (server == _local ? members.LocalMembers > 0 : members.Servers?.ContainsKey(server) == true)
            {
                return true;
            }
        }

        return result;
    }

    /// <summary>Adds every user sharing a room with <paramref name="user"/> to <paramref name="into"/>; false (and nothing added) when not all cached.</summary>
    public bool TryCollectCoMembers(UserId user, HashSet<UserId> into)
    {
        if (!IsComplete(user, null))
        {
            return false;
        }

        foreach (var room in _users[user].Rooms)
        {
            into.UnionWith(_rooms[room].Members);
        }

        into.Remove(user);
        return true;
    }

    /// <summary>Adds every other server sharing a room with <paramref name="user"/>; false when not all cached.</summary>
    public bool TryCollectServers(UserId user, HashSet<ServerName> into)
    {
        if (!IsComplete(user, null))
        {
            return false;
        }

        foreach (var room in _users[user].Rooms)
        {
            if (_rooms[room].Servers is { } servers)
            {
                foreach (var (server, _) in servers)
                {
                    into.Add(server);
                }
            }
        }

        return true;
    }

    /// <summary>
    /// Notes that the host is being asked for a user's rooms. Returns the lookup's token: a change of that user after it
    /// makes the answer too old to cache, however many lookups overlap and in whatever order they answer.
    /// </summary>
    public long FetchingRooms(UserId user)
    {
        _usersInFlight[user] = (_usersInFlight.GetValueOrDefault(user).Lookups + 1, _usersInFlight.GetValueOrDefault(user).LastChange);
        return _changes;
    }

    /// <summary>Notes that the host is being asked for a room's members; see <see cref="FetchingRooms"/>.</summary>
    public long FetchingMembers(string room)
    {
        _roomsInFlight[room] = (_roomsInFlight.GetValueOrDefault(room).Lookups + 1, _roomsInFlight.GetValueOrDefault(room).LastChange);
        return _changes;
    }

    /// <summary>Ends one lookup of <paramref name="key"/>; true when a change arrived after the lookup's <paramref name="token"/>.</summary>
    private static bool Raced<TKey>(Dictionary<TKey, (int Lookups, long LastChange)> inFlight, TKey key, long? token)
        where TKey : notnull
    {
        if (token is null || !inFlight.TryGetValue(key, out var entry))
        {
            return false; // an answer as of now
        }

        if (entry.Lookups <= 1)
        {
            inFlight.Remove(key);
        }
        else
        {
            inFlight[key] = (entry.Lookups - 1, entry.LastChange);
        }

        return entry.LastChange > token.Value;
    }

    /// <summary>Ends a lookup of a user's rooms that got no answer (the view failed): nothing is cached.</summary>
    public void AbandonRooms(UserId user) => Raced(_usersInFlight, user, long.MinValue);

    /// <summary>Ends a lookup of a room's members that got no answer: nothing is cached.</summary>
    public void AbandonMembers(string room) => Raced(_roomsInFlight, room, long.MinValue);

    /// <summary>
    /// Caches the host's answer for a user's rooms (excluded rooms dropped) unless a change of the user came after the
    /// lookup began (<paramref name="token"/> from <see cref="FetchingRooms"/>; <see langword="null"/>: an answer as of now).
    /// </summary>
    public void CacheRooms(UserId user, IEnumerable<string> rooms, long? token = null)
    {
        if (Raced(_usersInFlight, user, token))
        {
            return;
        }

        RemoveUser(user);
        var set = new List<string>();
        foreach (var room in rooms)
        {
            if (!string.IsNullOrEmpty(room) && !_excluded.Contains(room))
            {
                set.Add(room);
            }
        }

        set.Sort(StringComparer.Ordinal);
        var entry = new UserEntry([.. set.Distinct(StringComparer.Ordinal)], ++_stamp);
        _users[user] = entry;
        _size += 1 + entry.Rooms.Length;
        _order.Enqueue((null, user, entry.Stamp));
        Trim();
    }

    /// <summary>Caches the host's answer for a room's members unless the room is excluded or a change raced it (see <see cref="CacheRooms"/>).</summary>
    public void CacheMembers(string room, IEnumerable<UserId> members, long? token = null)
    {
        if (Raced(_roomsInFlight, room, token) || _excluded.Contains(room))
        {
            return;
        }

        RemoveRoom(room);
        var entry = new RoomEntry(++_stamp, members.TryGetNonEnumeratedCount(out int count) ? count : 0);
        foreach (var member in members)
        {
            if (!member.IsEmpty)
            {
                entry.Add(member, this);
            }
        }

        _rooms[room] = entry;
        _size += 1 + entry.Members.Count;
        _order.Enqueue((room, default, entry.Stamp));
        Trim();
    }

    /// <summary>A user joined a room: every cached side is updated in place. Returns false for an excluded room.</summary>
    public bool Joined(UserId user, string room)
    {
        if (_excluded.Contains(room))
        {
            return false;
        }

        MarkChanged(user, room);
        if (_users.TryGetValue(user, out var ofUser) && ofUser.Add(room))
        {
            _size++;
        }

        if (_rooms.TryGetValue(room, out var entry) && entry.Add(user, this))
        {
            _size++;
        }

        Trim();
        return true;
    }

    /// <summary>A user left a room.</summary>
    public bool Left(UserId user, string room)
    {
        if (_excluded.Contains(room))
        {
            return false;
        }

        MarkChanged(user, room);
        if (_users.TryGetValue(user, out var ofUser) && ofUser.Remove(room))
        {
            _size--;
        }

        if (_rooms.TryGetValue(room, out var entry) && entry.Remove(user, this))
        {
            _size--;
        }

        return true;
    }

    private void MarkChanged(UserId user, string room)
    {
        _changes++;
        if (_usersInFlight.TryGetValue(user, out var ofUser))
        {
            _usersInFlight[user] = (ofUser.Lookups, _changes);
        }

        if (_roomsInFlight.TryGetValue(room, out var ofRoom))
        {
            _roomsInFlight[room] = (ofRoom.Lookups, _changes);
        }
    }

    private void RemoveUser(UserId user)
    {
        if (_users.Remove(user, out var old))
        {
            _size -= 1 + old.Rooms.Length;
        }
    }

    private void RemoveRoom(string room)
    {
        if (_rooms.Remove(room, out var old))
        {
            _size -= 1 + old.Members.Count;
        }
    }

    /// <summary>Evicts the oldest entries until the cache is within its capacity; entries replaced since are skipped.</summary>
    private void Trim()
    {
        while (_size > _capacity && _order.TryDequeue(out var oldest))
        {
            if (oldest.Room is { } room)
            {
                if (_rooms.TryGetValue(room, out var entry) && entry.Stamp == oldest.Stamp)
                {
                    RemoveRoom(room);
                }
            }
            else if (_users.TryGetValue(oldest.User, out var entry) && entry.Stamp == oldest.Stamp)
            {
                RemoveUser(oldest.User);
            }
        }

        if (_order.Count > 2 * (_rooms.Count + _users.Count) + 64)
        {
            // Replaced entries leave stale keys behind; rebuild the order from what is cached (oldest stamps first).
            var live = new List<(string? Room, UserId User, long Stamp)>(_rooms.Count + _users.Count);
            foreach (var (room, entry) in _rooms)
            {
                live.Add((room, default, entry.Stamp));
            }

            foreach (var (user, entry) in _users)
            {
                live.Add((null, user, entry.Stamp));
            }

            live.Sort(static (x, y) => x.Stamp.CompareTo(y.Stamp));
            _order.Clear();
            foreach (var item in live)
            {
                _order.Enqueue(item);
            }
        }
    }

    /// <summary>
    /// The server of a remote user, as one shared <see cref="ServerName"/> per server (a user ID's server part is otherwise a
    /// new string each time, held once per room).
    /// </summary>
    private ServerName ServerOf(UserId user)
    {
        string id = user.Value;
        var part = id.AsSpan(id.IndexOf(':', StringComparison.Ordinal) + 1);
        var lookup = _servers.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!lookup.TryGetValue(part, out var server))
        {
            server = user.Server;
            _servers[server.Value] = server;
        }

        return server;
    }

    /// <summary>A user's rooms: a sorted array (a user is in a handful of rooms; joins are rare, lookups common).</summary>
    private sealed class UserEntry(string[] rooms, long stamp)
    {
        public string[] Rooms { get; private set; } = rooms;

        public long Stamp { get; } = stamp;

        public bool Add(string room)
        {
            int at = Array.BinarySearch(Rooms, room, StringComparer.Ordinal);
            if (at >= 0)
            {
                return false;
            }

            at = ~at;
            var grown = new string[Rooms.Length + 1];
            Array.Copy(Rooms, grown, at);
            grown[at] = room;
            Array.Copy(Rooms, at, grown, at + 1, Rooms.Length - at);
            Rooms = grown;
            return true;
        }

        public bool Remove(string room)
        {
            int at = Array.BinarySearch(Rooms, room, StringComparer.Ordinal);
            if (at < 0)
            {
                return false;
            }

            var shrunk = new string[Rooms.Length - 1];
            Array.Copy(Rooms, shrunk, at);
            Array.Copy(Rooms, at + 1, shrunk, at, Rooms.Length - at - 1);
            Rooms = shrunk;
            return true;
        }
    }

    /// <summary>A room's members, and how many of them each other server has (null while every member is local).</summary>
    internal sealed class RoomEntry(long stamp, int capacity)
    {
        public HashSet<UserId> Members { get; } = new(capacity);

        public Dictionary<ServerName, int>? Servers { get; private set; }

        /// <summary>Gets how many members are users of this server.</summary>
        public int LocalMembers { get; private set; }

        public long Stamp { get; } = stamp;

        public bool Add(UserId user, RoomCache cache)
        {
            if (!Members.Add(user))
            {
                return false;
            }

            if (user.IsOn(cache._local))
            {
                LocalMembers++;
            }
            else
            {
                var server = cache.ServerOf(user);
                Servers ??= [];
                Servers[server] = Servers.GetValueOrDefault(server) + 1;
            }

            return true;
        }

        public bool Remove(UserId user, RoomCache cache)
        {
            if (!Members.Remove(user))
            {
                return false;
            }

            if (user.IsOn(cache._local))
            {
                LocalMembers--;
            }
            else if (Servers is not null)
            {
                var server = cache.ServerOf(user);
                int left = Servers.GetValueOrDefault(server) - 1;
                if (left <= 0)
                {
                    Servers.Remove(server);
                }
                else
                {
                    Servers[server] = left;
                }
            }

            return true;
        }
    }
}
