namespace Presence;

/// <summary>
/// One message from one server to another, transport-agnostic: presence pushes, subscription deltas, a
/// reminder marker, the promise lifetime and presence-list requests. The Matrix codec maps it onto the
/// <c>m.presence</c> EDU (<c>push</c>, <c>poll</c>, <c>unpoll</c>) and the presence-list EDUs.
/// </summary>
public sealed class PresenceMessage
{
    private static readonly PresenceSnapshot[] NoPush = [];
    private static readonly UserId[] NoUsers = [];
    private static readonly PresenceListRequest[] NoRequests = [];

    /// <summary>Creates a message; absent parts are empty.</summary>
    /// <param name="push">The sender's users' presence: the latest state of each, at most once per user.</param>
    /// <param name="poll">The receiver's users the sender starts watching; answered at once with their presence.</param>
    /// <param name="unpoll">The receiver's users the sender stops watching.</param>
    /// <param name="isReminder">Whether this is a watchdog reminder: the current state of every user the receiver watches.</param>
    /// <param name="promiseLifetime">How long the sender promises to push changes without being asked again, if it says.</param>
    /// <param name="listRequests">Presence-list permission requests and answers.</param>
    public PresenceMessage(
        IReadOnlyList<PresenceSnapshot>? push = null,
        IReadOnlyList<UserId>? poll = null,
        IReadOnlyList<UserId>? unpoll = null,
        bool isReminder = false,
        TimeSpan? promiseLifetime = null,
        IReadOnlyList<PresenceListRequest>? listRequests = null)
    {
        if (promiseLifetime is { } lifetime && lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(promiseLifetime), lifetime, "A promise lifetime must be positive.");
        }

        Push = push ?? NoPush;
        Poll = poll ?? NoUsers;
        Unpoll = unpoll ?? NoUsers;
        IsReminder = isReminder;
        PromiseLifetime = promiseLifetime;
        ListRequests = listRequests ?? NoRequests;
    }

    /// <summary>Gets the presence of the sender's users.</summary>
    public IReadOnlyList<PresenceSnapshot> Push { get; }

    /// <summary>Gets the receiver's users the sender starts watching.</summary>
    public IReadOnlyList<UserId> Poll { get; }

    /// <summary>Gets the receiver's users the sender stops watching.</summary>
    public IReadOnlyList<UserId> Unpoll { get; }

    /// <summary>Gets a value indicating whether this is a watchdog reminder.</summary>
    public bool IsReminder { get; }

    /// <summary>Gets the promise lifetime the sender states, or <see langword="null"/> for the protocol default.</summary>
    public TimeSpan? PromiseLifetime { get; }

    /// <summary>Gets presence-list permission requests and answers.</summary>
    public IReadOnlyList<PresenceListRequest> ListRequests { get; }

    /// <summary>
    /// Gets the sender's ordering key for this message, or <see langword="null"/> when the sender states none (servers
    /// that only speak the specification). Monotonic per sending server, across its restarts: a receiver never applies a
    /// user's state from a message with a lower key over one from a higher key. A message that carries it comes from a
    /// server that speaks this protocol (reminders, promise lifetimes, derived <c>currently_active</c>).
    /// </summary>
    public long? Sequence { get; init; }

    /// <summary>Gets the number of entries the message carries (pushes, polls, unpolls and list requests).</summary>
    public int EntryCount => Push.Count + Poll.Count + Unpoll.Count + ListRequests.Count;
}

/// <summary>What a presence-list message asks or answers.</summary>
public enum PresenceListAction
{
    /// <summary>The observer asks to add the observed user to their presence list (<c>m.presence_invite</c>).</summary>
    Invite = 1,

    /// <summary>The observed user allows it (<c>m.presence_accept</c>).</summary>
    Accept = 2,

    /// <summary>The observed user refuses it, or withdraws an earlier grant (<c>m.presence_deny</c>).</summary>
    Deny = 3,
}

/// <summary>A presence-list permission request or answer between an observer and an observed user.</summary>
public sealed class PresenceListRequest
{
    /// <summary>Creates a request.</summary>
    /// <param name="action">What is asked or answered.</param>
    /// <param name="observer">The user who wants to see.</param>
    /// <param name="observed">The user to be seen.</param>
    /// <exception cref="ArgumentException">A user is empty or <paramref name="action"/> is not defined.</exception>
    public PresenceListRequest(PresenceListAction action, UserId observer, UserId observed)
    {
        if (action is not (PresenceListAction.Invite or PresenceListAction.Accept or PresenceListAction.Deny))
        {
            throw new ArgumentException($"{action} is not a presence-list action.", nameof(action));
        }

        if (observer.IsEmpty || observed.IsEmpty)
        {
            throw new ArgumentException("Both users are required.", observer.IsEmpty ? nameof(observer) : nameof(observed));
        }

        Action = action;
        Observer = observer;
        Observed = observed;
    }

    /// <summary>Gets what is asked or answered.</summary>
    public PresenceListAction Action { get; }

    /// <summary>Gets the user who wants to see.</summary>
    public UserId Observer { get; }

    /// <summary>Gets the user to be seen.</summary>
    public UserId Observed { get; }
}
