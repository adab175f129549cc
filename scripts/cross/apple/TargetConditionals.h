/* Stand-in for the Apple SDK's <TargetConditionals.h>, used ONLY by scripts/cross.sh to compile ring's C
 * for iOS on Linux (no Apple SDK here). ring reads TARGET_OS_OSX and TARGET_OS_IPHONE (include/ring-core/
 * base.h); the values below are the SDK's for iOS devices and the iOS simulator. Real builds (README
 * "Mobile builds") use Xcode's SDK and never see this file. */
#ifndef REALTIME_STUB_TARGET_CONDITIONALS_H
#define REALTIME_STUB_TARGET_CONDITIONALS_H
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 0
#define TARGET_OS_IPHONE 1
#define TARGET_OS_IOS 1
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_VISION 0
#ifdef REALTIME_STUB_SIMULATOR
#define TARGET_OS_SIMULATOR 1
#else
#define TARGET_OS_SIMULATOR 0
#endif
#define TARGET_CPU_ARM64 1
#endif
