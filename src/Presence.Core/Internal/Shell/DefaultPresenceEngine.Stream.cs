namespace Presence.Internal;

// API CONTRACT PLACEHOLDER (branch api9 only): the issue-9 engine helper replaces these bodies. Never merged to main as is.
internal sealed partial class DefaultPresenceEngine
{
    public IDisposable OpenSync(UserId user, string deviceId, PresenceState? setPresence = null) =>
        throw new NotImplementedException("api9 placeholder");

    public ValueTask<PresenceChanges> GetChangesSinceAsync(UserId viewer, PresenceStreamToken since, int limit = 1000, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException("api9 placeholder");

    public ValueTask<PresenceChanges> WaitForChangesAsync(UserId viewer, PresenceStreamToken since, TimeSpan timeout, int limit = 1000, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException("api9 placeholder");
}
