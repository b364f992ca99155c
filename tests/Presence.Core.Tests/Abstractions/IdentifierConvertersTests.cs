using System.ComponentModel;

namespace Presence.Core.Tests.Abstractions;

public sealed class IdentifierConvertersTests
{
    [Test]
    public void ServerNameConverter_ValidText_ParsesAndRoundTrips()
    {
        var converter = TypeDescriptor.GetConverter(typeof(ServerName));

        var name = (ServerName)converter.ConvertFromInvariantString("example.org:8448")!;

        Assert.That(name, Is.EqualTo(ServerName.Parse("example.org:8448")));
        Assert.That(converter.ConvertToInvariantString(name), Is.EqualTo("example.org:8448"));
    }

    [Test]
    public void ServerNameConverter_BadText_SaysWhatIsWrong()
    {
        var converter = TypeDescriptor.GetConverter(typeof(ServerName));

        var error = Assert.Throws<FormatException>(() => converter.ConvertFromInvariantString("exa mple.org"));

        Assert.That(error!.Message, Does.Contain("'exa mple.org' is not a valid server name").And.Contain("' '"));
    }

    [Test]
    public void UserIdConverter_ValidText_ParsesAndRoundTrips()
    {
        var converter = TypeDescriptor.GetConverter(typeof(UserId));

        var user = (UserId)converter.ConvertFromInvariantString("@alice:example.org")!;

        Assert.That(user, Is.EqualTo(UserId.Parse("@alice:example.org")));
        Assert.That(converter.ConvertToInvariantString(user), Is.EqualTo("@alice:example.org"));
    }

    [Test]
    public void UserIdConverter_BadText_SaysWhatIsWrong()
    {
        var converter = TypeDescriptor.GetConverter(typeof(UserId));

        var error = Assert.Throws<FormatException>(() => converter.ConvertFromInvariantString("alice"));

        Assert.That(error!.Message, Does.StartWith("'alice' is not a valid user ID: "));
    }
}
