namespace Presence.Internal;

/// <summary>
/// A membership view that answers without I/O and never calls into the engine (the in-memory view): the engine may ask it
/// under its interest lock. Host views never implement it; they are asked in the background.
/// </summary>
internal interface IInstantMembershipView
{
    IReadOnlyCollection<string> RoomsOf(UserId user);

    IReadOnlyCollection<UserId> MembersOf(string roomId);
}
