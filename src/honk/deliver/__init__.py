"""Delivering a green build to a phone: reading what was built (`apk`: an Android package, checked with
`apksigner`; `ios`: an `.ipa`'s Info.plist and its over-the-air manifest), both through bounded archive
reads (`archive`), and the signed, expiring links that let a phone fetch it without a session (`links`),
beside what the install page shows about it (`shelf`). The records they speak are in `records`."""
