namespace Presence.Internal;

/// <summary>
/// A store that answers a read without I/O (the in-memory store): the engine reads a new user's record at once, under the
/// shard's gate, instead of in the background. Host stores never implement it, so host code is never called on a hot path.
/// </summary>
internal interface IInstantPresenceStore
{
    /// <summary>Gets a user's record, or <see langword="null"/>; never blocks.</summary>
    PresenceRecord? Find(UserId user);
}
