using Presence.Internal;

namespace Presence.Core.Tests.Interest;

/// <summary>
/// <see cref="VisibilityRule"/> over every combination of its inputs (3 visibilities × self × sharing a room × accepted
/// observer), against the rule as DESIGN states it ("Who sees whom — rooms and lists").
/// </summary>
public sealed class VisibilityRuleTests
{
    private static readonly PresenceVisibility[] Visibilities = [PresenceVisibility.RoomMembers, PresenceVisibility.PresenceListOnly, PresenceVisibility.Nobody];

    private static IEnumerable<TestCaseData> AllInputs()
    {
        foreach (var visibility in Visibilities)
        {
            foreach (bool self in new[] { false, true })
            {
                foreach (bool sharesRoom in new[] { false, true })
                {
                    foreach (bool observer in new[] { false, true })
                    {
                        yield return new TestCaseData(visibility, self, sharesRoom, observer)
                            .SetName($"MaySee_{visibility}{(self ? "_Self" : string.Empty)}{(sharesRoom ? "_SharesRoom" : string.Empty)}{(observer ? "_AcceptedObserver" : string.Empty)}_MatchesDesign");
                    }
                }
            }
        }
    }

    /// <summary>DESIGN: a user always sees themselves; otherwise by the target's visibility.</summary>
    private static bool Reference(PresenceVisibility visibility, bool self, bool sharesRoom, bool acceptedObserver)
    {
        if (self)
        {
            return true;
        }

        return visibility switch
        {
            PresenceVisibility.RoomMembers => sharesRoom || acceptedObserver,
            PresenceVisibility.PresenceListOnly => acceptedObserver,
            PresenceVisibility.Nobody => false,
            _ => throw new ArgumentOutOfRangeException(nameof(visibility)),
        };
    }

    [TestCaseSource(nameof(AllInputs))]
    public void MaySee_EveryInput_MatchesDesign(PresenceVisibility visibility, bool self, bool sharesRoom, bool acceptedObserver)
        => Assert.That(VisibilityRule.MaySee(visibility, self, sharesRoom, acceptedObserver), Is.EqualTo(Reference(visibility, self, sharesRoom, acceptedObserver)));

    /// <summary>
    /// The engine skips the membership lookup when <see cref="VisibilityRule.NeedsRooms"/> is false and passes "not sharing";
    /// that is sound only if the answer then does not depend on sharing a room — and the lookup is needed where it does.
    /// </summary>
    [TestCaseSource(nameof(VisibilityCases))]
    public void NeedsRooms_EveryVisibility_TrueExactlyWhenSharingARoomCanChangeTheAnswer(PresenceVisibility visibility)
    {
        bool dependsOnRooms = false;
        foreach (bool self in new[] { false, true })
        {
            foreach (bool observer in new[] { false, true })
            {
                dependsOnRooms |= VisibilityRule.MaySee(visibility, self, sharesRoom: true, observer) != VisibilityRule.MaySee(visibility, self, sharesRoom: false, observer);
            }
        }

        Assert.That(VisibilityRule.NeedsRooms(visibility), Is.EqualTo(dependsOnRooms));
    }

    /// <summary>
    /// The engine skips the relation lookup when <see cref="VisibilityRule.NeedsObserver"/> is false and passes "no accepted
    /// observer": sound only if the answer then does not depend on it, and needed wherever it does.
    /// </summary>
    [TestCaseSource(nameof(VisibilityCases))]
    public void NeedsObserver_EveryInput_TrueExactlyWhenAnAcceptedObserverCanChangeTheAnswer(PresenceVisibility visibility)
    {
        foreach (bool self in new[] { false, true })
        {
            foreach (bool sharesRoom in new[] { false, true })
            {
                bool dependsOnObserver = VisibilityRule.MaySee(visibility, self, sharesRoom, acceptedObserver: true) != VisibilityRule.MaySee(visibility, self, sharesRoom, acceptedObserver: false);
                Assert.That(VisibilityRule.NeedsObserver(visibility, self, sharesRoom), Is.EqualTo(dependsOnObserver), $"self {self}, shares a room {sharesRoom}");
            }
        }
    }

    private static PresenceVisibility[] VisibilityCases() => Visibilities;
}
