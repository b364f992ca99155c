namespace Presence;

/// <summary>
/// A local user's feed of the presence changes they may see, delivered in batches: at most one batch per
/// delivery window, holding the latest state of each user that changed in it. The first batch is ready at
/// once and holds the current presence of the viewer and everyone visible who has any (it may be empty).
/// Dispose it when the client goes away; that frees everything it held.
/// </summary>
public interface IPresenceSubscription : IAsyncDisposable
{
    /// <summary>Gets the user who watches.</summary>
    UserId Viewer { get; }

    /// <summary>Takes the next batch if one is ready, without waiting. A reader that fell behind gets the batch it is owed with everything held back since folded in (latest state per user).</summary>
    /// <param name="batch">The batch when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when a batch was ready.</returns>
    bool TryRead(out IReadOnlyList<PresenceSnapshot> batch);

    /// <summary>Waits until a batch is ready.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when a batch is ready; <see langword="false"/> when the subscription has ended.</returns>
    ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads batches until the subscription ends.</summary>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The batches.</returns>
    IAsyncEnumerable<IReadOnlyList<PresenceSnapshot>> ReadAllAsync(CancellationToken cancellationToken = default);
}
