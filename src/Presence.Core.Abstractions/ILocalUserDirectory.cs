namespace Presence;

/// <summary>
/// Optional: says whether a local user ID names an account. When the host's <see cref="IMembershipView"/> also implements
/// it, presence-list invites from other servers to local users who do not exist are refused (answered with a deny, stored
/// nowhere). Without it, an invite is accepted for any local user ID; polls are refused for users the engine neither
/// holds nor finds in its store either way (they have no presence to share).
/// </summary>
public interface ILocalUserDirectory
{
    /// <summary>Gets whether <paramref name="user"/>, a local user ID, names an account.</summary>
    /// <param name="user">The local user.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns><see langword="true"/> when the account exists.</returns>
    ValueTask<bool> UserExistsAsync(UserId user, CancellationToken cancellationToken);
}
