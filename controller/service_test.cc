#include "controller/service.h"

#include "gtest/gtest.h"

namespace kdbg::controller {
namespace {

// The controller's service is a hand-made chain of the generated method mix-ins (Trace and Attach
// raw, service.h). A method left out of it would be served by the generated synchronous stub
// (UNIMPLEMENTED, on threads the callback server never starts): every method must be a callback.
TEST(ControllerServiceBaseTest, EveryMethodIsACallback) {
  ControllerServiceBase base;
  EXPECT_FALSE(base.has_synchronous_methods());
  EXPECT_FALSE(base.has_async_methods());
  EXPECT_TRUE(base.has_callback_methods());
  // What the check catches: a chain without the other methods keeps them synchronous.
  v1::Controller::WithRawCallbackMethod_Trace<v1::Controller::Service> partial;
  EXPECT_TRUE(partial.has_synchronous_methods());
}

}  // namespace
}  // namespace kdbg::controller
