namespace Presence.Internal;

/// <summary>
/// The one "may see" rule. Every path — reads, local feeds, routing to other servers, poll answers, reminders, newly shared
/// rooms, retraction and accept answers — asks it, through the engine's two questions (may this user see that one; may some
/// user of that server see this one), which only gather its inputs.
/// </summary>
internal static class VisibilityRule
{
    /// <summary>
    /// May a viewer see a target? Themselves always; otherwise by the target's choice: room members and accepted observers
    /// (<see cref="PresenceVisibility.RoomMembers"/>), accepted observers only, or nobody. For a remote target the other server
    /// has already applied its user's choice, and the caller passes <see cref="PresenceVisibility.RoomMembers"/>.
    /// </summary>
    public static bool MaySee(PresenceVisibility targetVisibility, bool self, bool sharesRoom, bool acceptedObserver)
        => self || targetVisibility switch
        {
            PresenceVisibility.Nobody => false,
            PresenceVisibility.PresenceListOnly => acceptedObserver,
            _ => sharesRoom || acceptedObserver,
        };

    /// <summary>Whether the room question matters at all for a target with this visibility (skips membership lookups).</summary>
    public static bool NeedsRooms(PresenceVisibility targetVisibility) => targetVisibility == PresenceVisibility.RoomMembers;

    /// <summary>Whether the accepted-observer question can change the answer, given the others (skips a relation lookup).</summary>
    public static bool NeedsObserver(PresenceVisibility targetVisibility, bool self, bool sharesRoom)
        => !self && targetVisibility != PresenceVisibility.Nobody && !(sharesRoom && NeedsRooms(targetVisibility));
}
