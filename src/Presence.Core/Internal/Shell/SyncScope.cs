namespace Presence.Internal;

/// <summary>
/// An open sync of one device (<see cref="IPresenceEngine.OpenSync"/>): disposing it closes the sync once; a second dispose,
/// or one after the engine was disposed, does nothing.
/// </summary>
internal sealed class SyncScope(DefaultPresenceEngine owner, UserId user, int hash, string deviceId) : IDisposable
{
    private int _closed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            owner.CloseSync(user, hash, deviceId);
        }
    }
}
