namespace Presence;

/// <summary>
/// A membership view kept in memory: rooms and their members, as the host tells it. For samples, tests and
/// small hosts. After <see cref="Join"/> or <see cref="Leave"/>, tell the engine through
/// <see cref="IPresenceEngine.MembershipChangedAsync(UserId, CancellationToken)"/>. Rooms named in
/// <see cref="ExcludeRoom"/> do not count (large public rooms, for example). Thread-safe.
/// </summary>
public sealed class InMemoryMembershipView : IMembershipView
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
            if (_rooms.TryGetValue(user, out var rooms))
            {
                rooms.Remove(roomId);
            }

            return _members.TryGetValue(roomId, out var members) && members.Remove(user);
        }
    }

    /// <summary>Leaves a room out of presence: sharing it no longer makes users visible to each other.</summary>
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
    public ValueTask<IReadOnlySet<UserId>> GetUsersSharingRoomAsync(UserId user, CancellationToken cancellationToken)
    {
        var result = new HashSet<UserId>();
        lock (_lock)
        {
            if (_rooms.TryGetValue(user, out var rooms))
            {
                foreach (var room in rooms)
                {
                    if (!_excluded.Contains(room))
                    {
                        result.UnionWith(_members[room]);
                    }
                }
            }
        }

        result.Remove(user);
        return ValueTask.FromResult<IReadOnlySet<UserId>>(result);
    }

    private static void RequireUser(UserId user)
    {
        if (user.IsEmpty)
        {
            throw new ArgumentException("A user ID is required.", nameof(user));
        }
    }
}
