namespace Presence;

/// <summary>
/// A membership view kept in memory: rooms and their members, as the host tells it. For samples, tests and small hosts.
/// After <see cref="Join"/> or <see cref="Leave"/>, tell the engine through
/// <see cref="IPresenceEngine.UserJoinedRoomAsync"/> / <see cref="IPresenceEngine.UserLeftRoomAsync"/>. Rooms named in
/// <see cref="ExcludeRoom"/> are left out of its answers (large public rooms, for example). Thread-safe.
/// </summary>
public sealed class InMemoryMembershipView : IMembershipView, Presence.Internal.IInstantMembershipView
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HashSet<UserId>> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<UserId, HashSet<string>> _rooms = [];
    private readonly HashSet<string> _excluded = new(StringComparer.Ordinal);

    /// <summary>Adds a user to a room.</summary>
    /// <param name="roomId">The room.</param>
    /// <param name="user">The user.</param>
    /// <returns><see langword="true"/> when the user was not already a member.</returns>
    public bool Join(string roomId, UserId user)
    {
        ArgumentException.ThrowIfNullOrEmpty(roomId);
        RequireUser(user);
        lock (_lock)
        {
            if (!_members.TryGetValue(roomId, out var members))
            {
                _members[roomId] = members = [];
            }

            if (!_rooms.TryGetValue(user, out var rooms))
            {
                _rooms[user] = rooms = new HashSet<string>(StringComparer.Ordinal);
            }

            rooms.Add(roomId);
            return members.Add(user);
        }
    }

    /// <summary>Removes a user from a room.</summary>
    /// <param name="roomId">The room.</param>
    /// <param name="user">The user.</param>
    /// <returns><see langword="true"/> when the user was a member.</returns>
    public bool Leave(string roomId, UserId user)
    {
        ArgumentException.ThrowIfNullOrEmpty(roomId);
        RequireUser(user);
        lock (_lock)
        {
            if (_rooms.TryGetValue(user, out var rooms) && rooms.Remove(roomId) && rooms.Count == 0)
            {
                _rooms.Remove(user);
            }

            bool removed = _members.TryGetValue(roomId, out var members) && members.Remove(user);
            if (members is { Count: 0 })
            {
                _members.Remove(roomId);
            }

            return removed;
        }
    }

    /// <summary>Leaves a room out of this view's answers: sharing it no longer makes users visible to each other.</summary>
    /// <param name="roomId">The room.</param>
    public void ExcludeRoom(string roomId)
    {
        ArgumentException.ThrowIfNullOrEmpty(roomId);
        lock (_lock)
        {
            _excluded.Add(roomId);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyCollection<string>> GetRoomsOfUserAsync(UserId user, CancellationToken cancellationToken)
        => ValueTask.FromResult(((Presence.Internal.IInstantMembershipView)this).RoomsOf(user));

    /// <inheritdoc/>
    public ValueTask<IReadOnlyCollection<UserId>> GetMembersOfRoomAsync(string roomId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(roomId);
        return ValueTask.FromResult(((Presence.Internal.IInstantMembershipView)this).MembersOf(roomId));
    }

    IReadOnlyCollection<string> Presence.Internal.IInstantMembershipView.RoomsOf(UserId user)
    {
        lock (_lock)
        {
            return _rooms.TryGetValue(user, out var set) ? [.. set.Where(room => !_excluded.Contains(room))] : [];
        }
    }

    IReadOnlyCollection<UserId> Presence.Internal.IInstantMembershipView.MembersOf(string roomId)
    {
        lock (_lock)
        {
            return !_excluded.Contains(roomId) && _members.TryGetValue(roomId, out var set) ? [.. set] : [];
        }
    }

    private static void RequireUser(UserId user)
    {
        if (user.IsEmpty)
        {
            throw new ArgumentException("A user ID is required.", nameof(user));
        }
    }
}
