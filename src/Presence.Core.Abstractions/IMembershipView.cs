namespace Presence;

/// <summary>
/// The host's answer to "who shares a room with this user?". Presence goes to users who share a room (the Matrix
/// specification); the servers a change goes to are derived from the same answer (the co-members' servers). The engine caches answers and forgets them when the host calls
/// <see cref="IPresenceEngine.MembershipChangedAsync(UserId, CancellationToken)"/>. A host that wants to keep large
/// public rooms out of presence simply leaves them out of its answers.
/// </summary>
public interface IMembershipView
{
    /// <summary>Gets the users, local and remote, who share at least one room with <paramref name="user"/>.</summary>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The users; <paramref name="user"/> may be included or not. The engine does not modify the set.</returns>
    ValueTask<IReadOnlySet<UserId>> GetUsersSharingRoomAsync(UserId user, CancellationToken cancellationToken);
}
