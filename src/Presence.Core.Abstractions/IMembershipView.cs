namespace Presence;

/// <summary>
/// The host's rooms, in the shapes a homeserver stores: the rooms a user is joined to, and the members of a room. Presence
/// goes to users who share a room (the Matrix specification), and the servers a change goes to are the servers of those
/// rooms' members. The engine caches answers per room and per user (memory linear in memberships) and keeps them current
/// from <see cref="IPresenceEngine.UserJoinedRoomAsync"/> and <see cref="IPresenceEngine.UserLeftRoomAsync"/>. It never
/// calls the view on a caller's hot path or under a lock: a miss is resolved in the background.
/// </summary>
/// <remarks>Rooms listed in <c>PresenceOptions.ExcludedRooms</c> share nothing; a host may also leave them out of its answers.</remarks>
public interface IMembershipView
{
    /// <summary>Gets the rooms <paramref name="user"/> (local or remote) is joined to.</summary>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The room IDs; the engine copies what it keeps.</returns>
    ValueTask<IReadOnlyCollection<string>> GetRoomsOfUserAsync(UserId user, CancellationToken cancellationToken);

    /// <summary>Gets the joined members of a room, local and remote.</summary>
    /// <param name="roomId">The room.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The members; the engine copies what it keeps.</returns>
    ValueTask<IReadOnlyCollection<UserId>> GetMembersOfRoomAsync(string roomId, CancellationToken cancellationToken);
}
